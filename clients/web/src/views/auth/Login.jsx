import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { registerStrings, t, useLanguage } from "../../i18n.js";
import { defaultHomeserver, discover, homeserverUrl, login } from "../../session.js";
import { LanguageSwitch } from "./LanguageSwitch.jsx";

registerStrings({
    en: {
        "auth.homeserver": "Homeserver",
        "auth.username": "User name",
        "auth.password": "Password",
        "auth.signin": "Sign in",
        "auth.signing_in": "Signing in…",
        "auth.no_account": "No account yet?",
        "auth.signup_link": "Create one",
        "auth.tagline": "Chat, call and share, on any Matrix server.",
        "auth.wrong_password": "Wrong user name or password.",
    },
    fr: {
        "auth.homeserver": "Serveur d'accueil",
        "auth.username": "Nom d'utilisateur",
        "auth.password": "Mot de passe",
        "auth.signin": "Se connecter",
        "auth.signing_in": "Connexion…",
        "auth.no_account": "Pas encore de compte ?",
        "auth.signup_link": "En créer un",
        "auth.tagline": "Discutez, appelez et partagez, sur n'importe quel serveur Matrix.",
        "auth.wrong_password": "Nom d'utilisateur ou mot de passe incorrect.",
    },
});

export function Login({ onSignedIn }) {
    useLanguage();
    const [server, setServer] = useState(defaultHomeserver());
    const [username, setUsername] = useState("");
    const [password, setPassword] = useState("");
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState("");

    const submit = async (e) => {
        e.preventDefault();
        setBusy(true);
        setError("");
        const typed = homeserverUrl(server);
        try {
            const baseUrl = await discover(typed);
            onSignedIn(await login(baseUrl, username.trim().replace(/^@/, ""), password));
        } catch (err) {
            setError(err.errcode === "M_FORBIDDEN" ? t("auth.wrong_password") : describeError(err, typed));
            setBusy(false);
        }
    };

    return (
        <main class="auth-page">
            <form class="auth-card" onSubmit={submit} aria-labelledby="auth-title">
                <LanguageSwitch />
                <h1 id="auth-title">{t("app.name")}</h1>
                <p class="tagline">{t("auth.tagline")}</p>
                <label>{t("auth.homeserver")}
                    <input name="homeserver" value={server} onInput={(e) => setServer(e.currentTarget.value)}
                        autocomplete="url" required />
                </label>
                <label>{t("auth.username")}
                    <input name="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)}
                        autocomplete="username" autofocus required />
                </label>
                <label>{t("auth.password")}
                    <input name="password" type="password" value={password}
                        onInput={(e) => setPassword(e.currentTarget.value)} autocomplete="current-password" required />
                </label>
                {error && <p class="error" role="alert">{error}</p>}
                <button type="submit" class="primary" disabled={busy}>
                    {busy ? t("auth.signing_in") : t("auth.signin")}
                </button>
                <p class="switch-page">{t("auth.no_account")} <a href="#/register">{t("auth.signup_link")}</a></p>
            </form>
        </main>
    );
}
