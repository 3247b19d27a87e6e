// "Create a room" (or a space): name, topic, who may join, encryption, and the space to file it under.
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { navigate } from "../../hooks.js";
import { registerStrings, t } from "../../i18n.js";
import { Modal } from "../../ui/Modal.jsx";
import { createRoom } from "./roomCreation.js";
import { joinedSpaces } from "./roomInfo.js";

registerStrings({
    en: {
        "create.title": "Create a room",
        "create.space_title": "Create a space",
        "create.name": "Name",
        "create.topic": "Topic (optional)",
        "create.access": "Who can join",
        "create.public": "Public: anyone can find and join it",
        "create.private": "Private: by invitation only",
        "create.knock": "On approval: people ask to join, moderators approve",
        "create.encrypted": "End-to-end encrypted",
        "create.encrypted_hint": "Cannot be turned off later.",
        "create.space": "Add to space",
        "create.no_space": "No space",
        "create.submit": "Create",
        "create.busy": "Creating…",
    },
    fr: {
        "create.title": "Créer un salon",
        "create.space_title": "Créer un espace",
        "create.name": "Nom",
        "create.topic": "Sujet (facultatif)",
        "create.access": "Qui peut rejoindre",
        "create.public": "Public : tout le monde peut le trouver et le rejoindre",
        "create.private": "Privé : sur invitation uniquement",
        "create.knock": "Sur approbation : on demande à entrer, les modérateurs approuvent",
        "create.encrypted": "Chiffré de bout en bout",
        "create.encrypted_hint": "Ne peut pas être désactivé ensuite.",
        "create.space": "Ajouter à l'espace",
        "create.no_space": "Aucun espace",
        "create.submit": "Créer",
        "create.busy": "Création…",
    },
});

export function CreateRoomDialog({ client, onClose, isSpace = false, spaceId: initialSpace = "", onCreated }) {
    const [name, setName] = useState("");
    const [topic, setTopic] = useState("");
    const [kind, setKind] = useState(isSpace ? "public" : "private");
    const [encrypted, setEncrypted] = useState(!isSpace);
    const [spaceId, setSpaceId] = useState(initialSpace || "");
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState("");
    const spaces = isSpace ? [] : joinedSpaces(client);

    const submit = async (e) => {
        e.preventDefault();
        setBusy(true);
        setError("");
        try {
            const roomId = await createRoom(client, { name, topic, kind, encrypted, spaceId: spaceId || null, isSpace });
            onClose();
            if (onCreated) onCreated(roomId);
            else navigate("room", roomId);
        } catch (err) {
            setError(describeError(err));
            setBusy(false);
        }
    };
    return (
        <Modal title={t(isSpace ? "create.space_title" : "create.title")} onClose={onClose}>
            <form class="dialog-form create-room" onSubmit={submit}>
                <label>{t("create.name")}
                    <input name="name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
                </label>
                <label>{t("create.topic")}
                    <input name="topic" value={topic} onInput={(e) => setTopic(e.currentTarget.value)} />
                </label>
                <fieldset>
                    <legend>{t("create.access")}</legend>
                    {["public", "private", "knock"].map((k) => (
                        <label class="choice" key={k}>
                            <input type="radio" name="access" value={k} checked={kind === k}
                                onChange={() => setKind(k)} />
                            <span>{t(`create.${k}`)}</span>
                        </label>
                    ))}
                </fieldset>
                {!isSpace && (
                    <label class="choice">
                        <input type="checkbox" name="encrypted" checked={encrypted}
                            onChange={(e) => setEncrypted(e.currentTarget.checked)} />
                        <span>{t("create.encrypted")} <small>{t("create.encrypted_hint")}</small></span>
                    </label>
                )}
                {spaces.length > 0 && (
                    <label>{t("create.space")}
                        <select name="space" value={spaceId} onChange={(e) => setSpaceId(e.currentTarget.value)}>
                            <option value="">{t("create.no_space")}</option>
                            {spaces.map((s) => <option key={s.roomId} value={s.roomId}>{s.name}</option>)}
                        </select>
                    </label>
                )}
                {error && <p class="error" role="alert">{error}</p>}
                <div class="dialog-actions">
                    <button type="button" class="secondary" onClick={onClose}>{t("common.cancel")}</button>
                    <button type="submit" class="primary" disabled={busy}>
                        {busy ? t("create.busy") : t("create.submit")}
                    </button>
                </div>
            </form>
        </Modal>
    );
}
