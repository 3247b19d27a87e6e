// The top of the app: signed out, the sign-in and sign-up pages; signed in, Home.
import { ClientEvent } from "matrix-js-sdk";
import { useEffect, useState } from "preact/hooks";
import { describeError } from "./errors.js";
import { navigate, useRoute } from "./hooks.js";
import { t, useLanguage } from "./i18n.js";
import { logout, savedSession, startClient } from "./session.js";
import { Login } from "./views/auth/Login.jsx";
import { Register } from "./views/auth/Register.jsx";
import { Home } from "./views/home/Home.jsx";

export function App() {
    useLanguage();
    const [session, setSession] = useState(savedSession);
    const [client, setClient] = useState(null);
    const [error, setError] = useState(null);
    const route = useRoute();

    useEffect(() => {
        if (!session) return undefined;
        let live = true;
        let started = null;
        startClient(session).then(
            (c) => {
                started = c;
                if (live) setClient(c);
                else c.stopClient();
            },
            (err) => live && setError(describeError(err)),
        );
        return () => {
            live = false;
            started?.stopClient();
        };
    }, [session]);

    useEffect(() => {
        if (!client) return undefined;
        const onLoggedOut = () => {
            setClient(null);
            setSession(null);
        };
        client.on("Session.logged_out", onLoggedOut);
        return () => client.removeListener("Session.logged_out", onLoggedOut);
    }, [client]);

    if (!session) {
        const signedIn = (s) => {
            setSession(s);
            navigate("home");
        };
        return route[0] === "register"
            ? <Register onSignedIn={signedIn} />
            : <Login onSignedIn={signedIn} />;
    }
    if (error) return <div class="splash"><p class="error" role="alert">{error}</p></div>;
    if (!client) return <div class="splash" aria-busy="true">{t("common.loading")}</div>;

    const signOut = async () => {
        await logout(client);
        setClient(null);
        setSession(null);
        navigate("login");
    };
    return <Home client={client} route={route} onSignOut={signOut} />;
}

export { ClientEvent };
