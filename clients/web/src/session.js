// Signing in, signing up, restoring the session after a reload, and signing out.
// The session (homeserver URL, user, device, access token) is kept in localStorage;
// the end-to-end encryption keys in IndexedDB, one database per device.
import { ClientEvent, createClient } from "matrix-js-sdk";

const SESSION_KEY = "parley.session";
const DEVICE_NAME = "Parley web";

export function defaultHomeserver() {
    return location.origin;
}

/** Normalises what people type as a homeserver: "example.org" -> "https://example.org". */
export function homeserverUrl(text) {
    const value = (text || "").trim().replace(/\/+$/, "");
    if (!value) return defaultHomeserver();
    return /^https?:\/\//.test(value) ? value : `https://${value}`;
}

/** The homeserver a user should talk to, from its .well-known if it has one. */
export async function discover(baseUrl) {
    if (baseUrl === location.origin) return baseUrl; // the serving homeserver itself
    try {
        const response = await fetch(`${baseUrl}/.well-known/matrix/client`);
        if (response.ok) {
            const found = (await response.json())?.["m.homeserver"]?.base_url;
            if (typeof found === "string" && found) return found.replace(/\/+$/, "");
        }
    } catch {
        // No .well-known (or not reachable): use the address as typed.
    }
    return baseUrl;
}

export function savedSession() {
    try {
        const session = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
        return session && session.accessToken ? session : null;
    } catch {
        return null;
    }
}

function saveSession(session) {
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export async function login(baseUrl, username, password) {
    const client = createClient({ baseUrl });
    const response = await client.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: username },
        password,
        initial_device_display_name: DEVICE_NAME,
    });
    const session = {
        baseUrl, userId: response.user_id, deviceId: response.device_id, accessToken: response.access_token,
    };
    saveSession(session);
    return session;
}

/**
 * Registers through the server's user-interactive authentication: the first flow made
 * only of stages we can do (m.login.dummy, m.login.registration_token) is followed.
 */
export async function register(baseUrl, username, password, registrationToken) {
    const client = createClient({ baseUrl });
    const request = {
        username, password, initial_device_display_name: DEVICE_NAME,
    };
    let response;
    let auth;
    for (let step = 0; step < 5; step++) {
        try {
            response = await client.registerRequest(auth ? { ...request, auth } : request);
            break;
        } catch (err) {
            if (err.httpStatus !== 401 || !err.data?.flows) throw err;
            const data = err.data;
            const done = new Set(data.completed || []);
            const flow = data.flows.find((f) => f.stages.every(
                (s) => s === "m.login.dummy" || s === "m.login.registration_token",
            ));
            if (!flow) throw Object.assign(new Error("unsupported"), { code: "unsupported_flow" });
            const stage = flow.stages.find((s) => !done.has(s));
            if (stage === "m.login.registration_token") {
                if (!registrationToken) throw Object.assign(new Error("token"), { code: "token_required" });
                if (data.errcode) throw err; // a wrong token: M_FORBIDDEN with the server's words
                auth = { type: stage, token: registrationToken, session: data.session };
            } else {
                auth = { type: stage, session: data.session };
            }
        }
    }
    const session = {
        baseUrl, userId: response.user_id, deviceId: response.device_id, accessToken: response.access_token,
    };
    saveSession(session);
    return session;
}

/** The registration flows a server offers (to show the token field only when needed). */
export async function registrationFlows(baseUrl) {
    const response = await fetch(`${baseUrl}/_matrix/client/v3/register`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
    });
    const data = await response.json().catch(() => ({}));
    if (response.status === 401 && Array.isArray(data.flows)) return data.flows;
    if (response.status === 403) return [];
    return data.flows || [];
}

/** A started MatrixClient for a saved session, with Rust crypto set up. */
export async function startClient(session) {
    const client = createClient({
        baseUrl: session.baseUrl,
        accessToken: session.accessToken,
        userId: session.userId,
        deviceId: session.deviceId,
        timelineSupport: true,
    });
    try {
        // Loaded only now (not with the sign-in page): the bindings, then the WASM from
        // its content-hashed URL (matrix-js-sdk then finds the module initialised).
        const { initAsync } = await import("@matrix-org/matrix-sdk-crypto-wasm");
        await initAsync(__CRYPTO_WASM__);
        await client.initRustCrypto({ cryptoDatabasePrefix: `parley-${session.userId}-${session.deviceId}` });
    } catch (err) {
        // Without crypto the client still works in unencrypted rooms; encrypted rooms
        // show that their messages cannot be read here.
        console.error("end-to-end encryption is unavailable", err);
    }
    client.on(ClientEvent.Sync, (state) => {
        if (state === "ERROR") console.warn("sync error");
    });
    client.on("Session.logged_out", () => forgetSession());
    await client.startClient({ initialSyncLimit: 30, lazyLoadMembers: true });
    return client;
}

function forgetSession() {
    localStorage.removeItem(SESSION_KEY);
}

export async function logout(client) {
    try {
        client.stopClient();
        await client.logout(true);
    } catch (err) {
        console.warn("logout request failed", err);
    }
    try {
        await client.clearStores();
    } catch {
        // nothing stored
    }
    forgetSession();
}
