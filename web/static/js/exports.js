// Export buttons (CSV and Excel) for a table the API can serve as a file, with an optional
// period (from/to, Asia/Shanghai dates, `to` inclusive).
import { download } from "./api.js";
import { h, flash, flashError, t } from "./ui.js";


/** Controls to download `path` (which may already carry a query) as CSV or xlsx.
 *  `name` is the file's stem; `params()` may add query parameters at click time;
 *  `dates: false` leaves the period out (e.g. the monthly report, a month already). */
export function exportBar({ id, path, name, dates = true, params = () => ({}) }) {
  const from = h("input", { type: "date", id: `${id}-from`, "aria-label": t("ex.from") });
  const to = h("input", { type: "date", id: `${id}-to`, "aria-label": t("ex.to") });
  const msg = h("div", { class: "flash", hidden: true, id: `${id}-msg` });
  const fetchAs = async (format, btn) => {
    const q = new URLSearchParams({ ...params(), format });
    if (dates && from.value) q.set("from", from.value);
    if (dates && to.value) q.set("to", to.value);
    if (dates && from.value && to.value && from.value > to.value) {
      flash(msg, "error", t("ex.bad_period"));
      return;
    }
    msg.hidden = true;
    btn.disabled = true;
    try {
      const sep = path.includes("?") ? "&" : "?";
      const period = dates && (from.value || to.value) ? `_${from.value || "start"}_${to.value || "now"}` : "";
      await download(`${path}${sep}${q}`, `${name}${period}.${format}`);
      flash(msg, "ok", t("ex.done"));
    } catch (e) {
      flashError(msg, e);
    } finally {
      btn.disabled = false;
    }
  };
  const bar = h("div", { class: "exports", id, role: "group", "aria-label": t("ex.label") },
    dates ? h("div", { class: "field" }, h("label", { for: `${id}-from`, class: "small muted" }, t("ex.from")), from) : null,
    dates ? h("div", { class: "field" }, h("label", { for: `${id}-to`, class: "small muted" }, t("ex.to")), to) : null,
    h("button", { type: "button", class: "btn btn-sm", id: `${id}-csv`, onclick: (e) => fetchAs("csv", e.currentTarget) }, t("ex.csv")),
    h("button", { type: "button", class: "btn btn-sm", id: `${id}-xlsx`, onclick: (e) => fetchAs("xlsx", e.currentTarget) }, t("ex.xlsx")));
  for (const el of [from, to]) el.addEventListener("input", () => { msg.hidden = true; });
  return h("details", { class: "export-box" }, h("summary", { class: "btn btn-sm" }, t("ex.summary")), bar, msg);
}
