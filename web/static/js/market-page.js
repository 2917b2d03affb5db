// The market page's start-up, in a file of its own: the Content-Security-Policy
// allows no inline script.
import { renderHeader, $ } from "/static/js/ui.js";
import { MarketView } from "/static/js/market.js";

renderHeader("market");
const view = new MarketView($("#market"));
view.start();
window.emxMarket = view;
