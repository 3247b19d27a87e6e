// Shows when the sync loop has lost the server, and when it is back; matrix-js-sdk keeps
// retrying by itself, so reconnection is automatic.
import { ClientEvent, SyncState } from "matrix-js-sdk";
import { useEffect, useState } from "preact/hooks";
import { t } from "../i18n.js";

export function ConnectionBanner({ client }) {
    const [state, setState] = useState("ok");
    useEffect(() => {
        let timer = null;
        const onSync = (now, before) => {
            if (now === SyncState.Error || now === SyncState.Reconnecting) {
                clearTimeout(timer);
                setState("lost");
            } else if ((now === SyncState.Syncing || now === SyncState.Prepared)
                && (before === SyncState.Error || before === SyncState.Reconnecting)) {
                setState("back");
                timer = setTimeout(() => setState("ok"), 3000);
            }
        };
        client.on(ClientEvent.Sync, onSync);
        return () => {
            clearTimeout(timer);
            client.removeListener(ClientEvent.Sync, onSync);
        };
    }, [client]);
    if (state === "ok") return null;
    return (
        <div class={`connection-banner ${state}`} role="status" aria-live="polite">
            {state === "lost" ? t("conn.lost") : t("conn.back")}
        </div>
    );
}
