import { LANGUAGES, language, setLanguage, t, useLanguage } from "../../i18n.js";

export function LanguageSwitch() {
    useLanguage();
    return (
        <label class="language-switch">
            <span class="visually-hidden">{t("common.language")}</span>
            <select aria-label={t("common.language")} value={language()}
                onChange={(e) => setLanguage(e.currentTarget.value)}>
                {Object.entries(LANGUAGES).map(([code, name]) => <option value={code}>{name}</option>)}
            </select>
        </label>
    );
}
