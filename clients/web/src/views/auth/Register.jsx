import { useEffect, useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { registerStrings, t, useLanguage } from "../../i18n.js";
import { defaultHomeserver, discover, homeserverUrl, register, registrationFlows } from "../../session.js";
import { LanguageSwitch } from "./LanguageSwitch.jsx";

registerStrings({
    en: {
        "signup.title": "Create an account",
        "signup.confirm": "Password again",
        "signup.token": "Registration token",
        "signup.token_hint": "This server asks for a token from its administrator.",
        "signup.submit": "Create account",
        "signup.busy": "Creating account…",
        "signup.mismatch": "The two passwords differ.",
        "signup.taken": "That user name is taken. Try another one.",
        "signup.closed": "This server does not accept new accounts.",
        "signup.token_required": "This server needs a registration token.",
        "signup.unsupported": "This server asks for a sign-up step this client cannot do (such as a captcha or an email).",
        "signup.have_account": "Already have an account?",
        "signup.signin_link": "Sign in",
    },
    fr: {
        "signup.title": "Créer un compte",
        "signup.confirm": "Mot de passe (encore)",
        "signup.token": "Jeton d'inscription",
        "signup.token_hint": "Ce serveur demande un jeton fourni par son administrateur.",
        "signup.submit": "Créer le compte",
        "signup.busy": "Création du compte…",
        "signup.mismatch": "Les deux mots de passe diffèrent.",
        "signup.taken": "Ce nom d'utilisateur est déjà pris. Essayez-en un autre.",
        "signup.closed": "Ce serveur n'accepte pas de nouveaux comptes.",
        "signup.token_required": "Ce serveur demande un jeton d'inscription.",
        "signup.unsupported": "Ce serveur demande une étape d'inscription que ce client ne sait pas faire (captcha, e-mail…).",
        "signup.have_account": "Déjà un compte ?",
        "signup.signin_link": "Se connecter",
    },
});

export function Register({ onSignedIn }) {
    useLanguage();
    const [server, setServer] = useState(defaultHomeserver());
    const [username, setUsername] = useState("");
    const [password, setPassword] = useState("");
    const [confirm, setConfirm] = useState("");
    const [token, setToken] = useState("");
    const [needsToken, setNeedsToken] = useState(false);
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState("");

    useEffect(() => {
        let live = true;
        const timer = setTimeout(async () => {
            try {
                const flows = await registrationFlows(await discover(homeserverUrl(server)));
                if (!live) return;
                if (flows.length === 0) setError(t("signup.closed"));
                const easy = flows.filter((f) => f.stages.every(
                    (s) => s === "m.login.dummy" || s === "m.login.registration_token",
                ));
                setNeedsToken(easy.length > 0 && easy.every((f) => f.stages.includes("m.login.registration_token")));
            } catch {
                // shown when the form is sent
            }
        }, 300);
        return () => {
            live = false;
            clearTimeout(timer);
        };
    }, [server]);

    const submit = async (e) => {
        e.preventDefault();
        if (password !== confirm) {
            setError(t("signup.mismatch"));
            return;
        }
        setBusy(true);
        setError("");
        const typed = homeserverUrl(server);
        try {
            const baseUrl = await discover(typed);
            onSignedIn(await register(baseUrl, username.trim().replace(/^@/, "").split(":")[0], password, token.trim()));
        } catch (err) {
            const messages = {
                M_USER_IN_USE: t("signup.taken"),
                token_required: t("signup.token_required"),
                unsupported_flow: t("signup.unsupported"),
            };
            setError(messages[err.errcode || err.code] || describeError(err, typed));
            if (err.code === "token_required") setNeedsToken(true);
            setBusy(false);
        }
    };

    return (
        <main class="auth-page">
            <form class="auth-card" onSubmit={submit} aria-labelledby="signup-title">
                <LanguageSwitch />
                <h1 id="signup-title">{t("signup.title")}</h1>
                <label>{t("auth.homeserver")}
                    <input name="homeserver" value={server} onInput={(e) => setServer(e.currentTarget.value)} required />
                </label>
                <label>{t("auth.username")}
                    <input name="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)}
                        autocomplete="username" autofocus required />
                </label>
                <label>{t("auth.password")}
                    <input name="password" type="password" value={password}
                        onInput={(e) => setPassword(e.currentTarget.value)} autocomplete="new-password" required />
                </label>
                <label>{t("signup.confirm")}
                    <input name="confirm" type="password" value={confirm}
                        onInput={(e) => setConfirm(e.currentTarget.value)} autocomplete="new-password" required />
                </label>
                {needsToken && (
                    <label>{t("signup.token")}
                        <input name="token" value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
                        <small>{t("signup.token_hint")}</small>
                    </label>
                )}
                {error && <p class="error" role="alert">{error}</p>}
                <button type="submit" class="primary" disabled={busy}>
                    {busy ? t("signup.busy") : t("signup.submit")}
                </button>
                <p class="switch-page">{t("signup.have_account")} <a href="#/login">{t("signup.signin_link")}</a></p>
            </form>
        </main>
    );
}
