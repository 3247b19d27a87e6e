// User-interactive authentication (spec: client-server-api "User-interactive authentication
// API") with the one stage this client offers: the account's current password.

/** Runs `request(auth)`; when the server asks for UIA, runs it again with the password. */
export async function withPassword(client, password, request) {
    try {
        return await request(undefined);
    } catch (err) {
        if (err.httpStatus !== 401 || !err.data?.flows) throw err;
        const usable = err.data.flows.some((f) => f.stages.length === 1 && f.stages[0] === "m.login.password");
        if (!usable) throw err;
        return request({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: client.getUserId() },
            password,
            session: err.data.session,
        });
    }
}
