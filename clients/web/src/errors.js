// Turning what matrix-js-sdk throws into a sentence for people.
import { t } from "./i18n.js";

/** `url`: the server that was asked, named when it could not be reached. */
export function describeError(err, url) {
    if (!err) return "";
    if (err.errcode && err.data && err.data.error) return err.data.error;
    if (err.errcode) return `${err.errcode}: ${err.message}`;
    if (err.name === "ConnectionError" || err.name === "TypeError") {
        return t("error.unreachable", { url: url || err.url || t("error.the_server") });
    }
    return t("error.generic", { message: err.message || String(err) });
}
