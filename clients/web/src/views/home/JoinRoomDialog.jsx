// Joining a room by its address (#alias:server) or ID, or knocking on one that asks for approval.
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { navigate } from "../../hooks.js";
import { registerStrings, t } from "../../i18n.js";
import { Modal } from "../../ui/Modal.jsx";
import { waitForRoom } from "./roomInfo.js";

registerStrings({
    en: {
        "join.title": "Join a room",
        "join.address": "Room address or ID",
        "join.address_hint": "#room:server or !id:server",
        "join.reason": "Message to the moderators (for a request)",
        "join.join": "Join",
        "join.knock": "Ask to join",
        "join.knocked": "Request sent. You will see the room once a moderator lets you in.",
    },
    fr: {
        "join.title": "Rejoindre un salon",
        "join.address": "Adresse ou identifiant du salon",
        "join.address_hint": "#salon:serveur ou !id:serveur",
        "join.reason": "Message aux modérateurs (pour une demande)",
        "join.join": "Rejoindre",
        "join.knock": "Demander à rejoindre",
        "join.knocked": "Demande envoyée. Le salon apparaîtra quand un modérateur vous aura fait entrer.",
    },
});

export function JoinRoomDialog({ client, onClose }) {
    const [address, setAddress] = useState("");
    const [reason, setReason] = useState("");
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState("");
    const [done, setDone] = useState("");

    const run = (action) => async (e) => {
        e.preventDefault();
        setBusy(true);
        setError("");
        try {
            await action(address.trim());
        } catch (err) {
            setError(describeError(err));
        } finally {
            setBusy(false);
        }
    };
    const join = run(async (target) => {
        const joined = await client.joinRoom(target);
        const room = (await waitForRoom(client, joined.roomId)) || joined;
        onClose();
        if (room.isSpaceRoom()) navigate("space", room.roomId);
        else navigate("room", room.roomId);
    });
    const knock = run(async (target) => {
        await client.knockRoom(target, reason.trim() ? { reason: reason.trim() } : {});
        setDone(t("join.knocked"));
    });
    return (
        <Modal title={t("join.title")} onClose={onClose}>
            <form class="dialog-form join-room" onSubmit={join}>
                <label>{t("join.address")}
                    <input name="address" value={address} required placeholder={t("join.address_hint")}
                        onInput={(e) => setAddress(e.currentTarget.value)} />
                </label>
                <label>{t("join.reason")}
                    <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
                </label>
                {error && <p class="error" role="alert">{error}</p>}
                {done && <p class="ok" role="status">{done}</p>}
                <div class="dialog-actions">
                    <button type="button" class="secondary" disabled={busy || !address.trim()} onClick={knock}>
                        {t("join.knock")}
                    </button>
                    <button type="submit" class="primary" disabled={busy}>{t("join.join")}</button>
                </div>
            </form>
        </Modal>
    );
}
