// The domain's codes and their names in the user's language (from the catalogues).
import { t, has } from "./i18n.js";

export const CITY_CODES = [
  "440100", "440200", "440300", "440400", "440500", "440600", "440700", "440800", "440900",
  "441200", "441300", "441400", "441500", "441600", "441700", "441800", "441900", "442000",
  "445100", "445200", "445300",
];

export function cityName(code) {
  if (!code) return "—";
  return has(`city.${code}`) ? t(`city.${code}`) : code;
}

/** Rough geographic tile positions [column, row] for a map-like layout of the 21 cities. */
export const CITY_TILES = {
  "440200": [5, 1], "441400": [9, 1],
  "441800": [5, 2], "441600": [7, 2], "445200": [9, 2], "445100": [10, 2],
  "445300": [3, 3], "441200": [4, 3], "440600": [5, 3], "440100": [6, 3],
  "441900": [7, 3], "441300": [8, 3], "441500": [9, 3], "440500": [10, 3],
  "440700": [5, 4], "442000": [6, 4], "440300": [7, 4],
  "440900": [2, 5], "441700": [3, 5], "440400": [6, 5],
  "440800": [1, 6],
};

export const ROLE_CODES = ["enterprise", "city_bureau", "province", "operator"];
export const SOURCE_KIND_CODES = ["structure_upgrade", "deep_treatment", "coal_boiler_phaseout", "clean_energy_substitution", "self_initiated", "eia_approved_unbuilt", "other_lawful"];
export const PRIORITY_CODES = ["key_construction", "major_platform", "strategic_cluster", "county_town_village", "ordinary"];
export const METHOD_CODES = ["online_monitoring", "on_site_inspection", "periodic_check", "enforcement_inspection"];
export const TIF_CODES = ["GTC", "DAY", "IOC", "FOK"];
export const STP_CODES = ["cancel_incoming", "cancel_resting", "cancel_both"];
// A trade's `kind` on the tape: matched on the book, or a negotiated block trade.
export const TRADE_KIND = { CONTINUOUS: "continuous", BLOCK: "block" };

/** The name of `code` in the catalogue section `kind` (role, source, priority, method, tif,
 *  status, cancel, alert, side, otype, stp); an unknown code shows as itself. */
export function label(kind, code) {
  if (code === null || code === undefined || code === "") return "—";
  return has(`${kind}.${code}`) ? t(`${kind}.${code}`) : String(code);
}

export const roleName = (role) => label("role", role);
