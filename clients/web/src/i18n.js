// English and French. Each part of the app registers its own strings next to its code
// (registerStrings), so no single file of translations grows without bound.
import { useEffect, useState } from "preact/hooks";

export const LANGUAGES = { en: "English", fr: "Français" };
const dictionaries = { en: {}, fr: {} };
const listeners = new Set();
let current = initialLanguage();

function initialLanguage() {
    const saved = localStorage.getItem("parley.lang");
    if (saved in LANGUAGES) return saved;
    for (const tag of navigator.languages || [navigator.language || "en"]) {
        const base = String(tag).slice(0, 2).toLowerCase();
        if (base in LANGUAGES) return base;
    }
    return "en";
}

export function registerStrings(strings) {
    for (const lang of Object.keys(LANGUAGES)) Object.assign(dictionaries[lang], strings[lang] || {});
}

/** The string for `key` in the current language, with {name} placeholders filled. */
export function t(key, vars) {
    const text = dictionaries[current][key] ?? dictionaries.en[key] ?? key;
    if (!vars) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function language() {
    return current;
}

export function setLanguage(lang) {
    if (!(lang in LANGUAGES) || lang === current) return;
    current = lang;
    localStorage.setItem("parley.lang", lang);
    document.documentElement.lang = lang;
    for (const listener of listeners) listener(lang);
}

/** Re-renders the calling component when the language changes. */
export function useLanguage() {
    const [lang, setLang] = useState(current);
    useEffect(() => {
        listeners.add(setLang);
        return () => listeners.delete(setLang);
    }, []);
    return lang;
}

/** Formats a timestamp as a time of day in the current language. */
export function formatTime(ts) {
    return new Date(ts).toLocaleTimeString(current, { hour: "2-digit", minute: "2-digit" });
}

export function formatDay(ts) {
    return new Date(ts).toLocaleDateString(current, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

document.documentElement.lang = current;

registerStrings({
    en: {
        "app.name": "Parley",
        "common.cancel": "Cancel",
        "common.save": "Save",
        "common.close": "Close",
        "common.loading": "Loading…",
        "common.language": "Language",
        "conn.lost": "Connection to the server lost. Reconnecting…",
        "conn.back": "Connected again.",
        "error.generic": "Something went wrong: {message}",
        "error.unreachable": "The server at {url} cannot be reached. Check the address, or try again in a moment.",
        "error.the_server": "this address",
    },
    fr: {
        "app.name": "Parley",
        "common.cancel": "Annuler",
        "common.save": "Enregistrer",
        "common.close": "Fermer",
        "common.loading": "Chargement…",
        "common.language": "Langue",
        "conn.lost": "Connexion au serveur perdue. Reconnexion…",
        "conn.back": "Connecté à nouveau.",
        "error.generic": "Une erreur s'est produite : {message}",
        "error.unreachable": "Le serveur {url} est injoignable. Vérifiez l'adresse ou réessayez dans un instant.",
        "error.the_server": "à cette adresse",
    },
});
