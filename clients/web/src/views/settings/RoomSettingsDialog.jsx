// Room settings: the room's name, topic and picture; members with their roles, invites,
// kicks and bans; requests to join (knocks); leaving and hiding the conversation.
import { EventType, RoomStateEvent } from "matrix-js-sdk";
import { useEffect, useState } from "preact/hooks";
import { navigate, useEmitter } from "../../hooks.js";
import { registerStrings, t } from "../../i18n.js";
import { Modal } from "../../ui/Modal.jsx";
import { RoomMembers } from "./RoomMembers.jsx";
import { permissions } from "./powerLevels.js";
import { Feedback, useAction } from "./action.jsx";
import "./settings.css";

registerStrings({
    en: {
        "rs.title": "Settings: {room}",
        "rs.tab_general": "General",
        "rs.tab_members": "Members",
        "rs.tab_leave": "Leave",
        "rs.name": "Room name",
        "rs.topic": "Topic",
        "rs.avatar": "Room picture",
        "rs.saved": "Saved.",
        "rs.uploading": "Uploading…",
        "rs.join_rule": "Who can join: {rule}",
        "rs.rule_public": "anyone",
        "rs.rule_invite": "invited people",
        "rs.rule_knock": "people a moderator approves",
        "rs.rule_restricted": "members of a space",
        "rs.encrypted": "Messages are end-to-end encrypted.",
        "rs.leave": "Leave the room",
        "rs.leave_hint": "You stop receiving its messages. You can come back if the room lets you.",
        "rs.forget": "Hide the conversation",
        "rs.forget_hint": "Removes it from your list for good. Only possible once you have left.",
        "rs.leave_forget": "Leave and hide the conversation",
        "rs.left": "You have left this room.",
    },
    fr: {
        "rs.title": "Paramètres : {room}",
        "rs.tab_general": "Général",
        "rs.tab_members": "Membres",
        "rs.tab_leave": "Quitter",
        "rs.name": "Nom du salon",
        "rs.topic": "Sujet",
        "rs.avatar": "Image du salon",
        "rs.saved": "Enregistré.",
        "rs.uploading": "Envoi…",
        "rs.join_rule": "Qui peut rejoindre : {rule}",
        "rs.rule_public": "tout le monde",
        "rs.rule_invite": "les personnes invitées",
        "rs.rule_knock": "les personnes qu'un modérateur approuve",
        "rs.rule_restricted": "les membres d'un espace",
        "rs.encrypted": "Les messages sont chiffrés de bout en bout.",
        "rs.leave": "Quitter le salon",
        "rs.leave_hint": "Vous ne recevrez plus ses messages. Vous pourrez revenir si le salon le permet.",
        "rs.forget": "Masquer la conversation",
        "rs.forget_hint": "La retire définitivement de votre liste. Possible seulement après l'avoir quittée.",
        "rs.leave_forget": "Quitter et masquer la conversation",
        "rs.left": "Vous avez quitté ce salon.",
    },
});

function GeneralTab({ client, room, may }) {
    const state = room.currentState;
    const [name, setName] = useState(state.getStateEvents(EventType.RoomName, "")?.getContent().name || "");
    const [topic, setTopic] = useState(state.getStateEvents(EventType.RoomTopic, "")?.getContent().topic || "");
    const action = useAction();
    const save = (e) => {
        e.preventDefault();
        action.run(async () => {
            const oldName = state.getStateEvents(EventType.RoomName, "")?.getContent().name || "";
            const oldTopic = state.getStateEvents(EventType.RoomTopic, "")?.getContent().topic || "";
            if (name.trim() !== oldName) await client.setRoomName(room.roomId, name.trim());
            if (topic.trim() !== oldTopic) await client.setRoomTopic(room.roomId, topic.trim());
        }, t("rs.saved"));
    };
    const upload = (e) => {
        const file = e.currentTarget.files?.[0];
        if (!file) return;
        action.run(async () => {
            const { content_uri: url } = await client.uploadContent(file, { name: file.name, type: file.type });
            await client.sendStateEvent(room.roomId, EventType.RoomAvatar, { url }, "");
        }, t("rs.saved"));
    };
    const rule = room.getJoinRule();
    return (
        <form class="dialog-form" onSubmit={save}>
            <label>{t("rs.name")}
                <input name="room-name" value={name} disabled={!may.name} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            <label>{t("rs.topic")}
                <textarea name="room-topic" rows={2} value={topic} disabled={!may.topic}
                    onInput={(e) => setTopic(e.currentTarget.value)} />
            </label>
            <label>{t("rs.avatar")}
                <input type="file" name="room-avatar" accept="image/*" disabled={!may.avatar || action.busy} onChange={upload} />
            </label>
            <p class="muted">{t("rs.join_rule", { rule: t(`rs.rule_${rule}`) })}</p>
            {room.hasEncryptionStateEvent() && <p class="muted">{t("rs.encrypted")}</p>}
            <Feedback action={action} />
            <div class="dialog-actions">
                <button type="submit" class="primary" disabled={action.busy || !(may.name || may.topic)}>{t("common.save")}</button>
            </div>
        </form>
    );
}

function LeaveTab({ client, room, onClose }) {
    const action = useAction();
    const membership = room.getMyMembership();
    const joined = membership === "join" || membership === "invite" || membership === "knock";
    const forget = () => action.run(async () => {
        await client.forget(room.roomId);
        onClose();
        navigate("home");
    });
    return (
        <div class="dialog-form leave-tab">
            {joined ? (
                <>
                    <p class="muted">{t("rs.leave_hint")}</p>
                    <div class="dialog-actions">
                        <button type="button" class="danger" disabled={action.busy}
                            onClick={() => action.run(() => client.leave(room.roomId))}>{t("rs.leave")}</button>
                        <button type="button" class="danger" disabled={action.busy}
                            onClick={() => action.run(async () => {
                                await client.leave(room.roomId);
                                await client.forget(room.roomId);
                                onClose();
                                navigate("home");
                            })}>{t("rs.leave_forget")}</button>
                    </div>
                </>
            ) : (
                <>
                    <p role="status">{t("rs.left")}</p>
                    <p class="muted">{t("rs.forget_hint")}</p>
                    <div class="dialog-actions">
                        <button type="button" class="danger" disabled={action.busy} onClick={forget}>{t("rs.forget")}</button>
                    </div>
                </>
            )}
            <Feedback action={action} />
        </div>
    );
}

export function RoomSettingsDialog({ client, room, onClose }) {
    useEmitter(client, [RoomStateEvent.Events, RoomStateEvent.Members, "Room.myMembership", "Room.name"], [room.roomId]);
    const [tab, setTab] = useState("general");
    useEffect(() => {
        room.loadMembersIfNeeded().catch(() => {});
    }, [room.roomId]);
    const may = permissions(room, client.getUserId());
    const tabs = [["general", t("rs.tab_general")], ["members", t("rs.tab_members")], ["leave", t("rs.tab_leave")]];
    return (
        <Modal title={t("rs.title", { room: room.name })} onClose={onClose} wide>
            <div class="tabs" role="tablist">
                {tabs.map(([id, label]) => (
                    <button type="button" role="tab" key={id} id={`rs-tab-${id}`} aria-selected={tab === id}
                        aria-controls={`rs-panel-${id}`} class={tab === id ? "selected" : ""}
                        onClick={() => setTab(id)}>{label}</button>
                ))}
            </div>
            <div role="tabpanel" id={`rs-panel-${tab}`} aria-labelledby={`rs-tab-${tab}`}>
                {tab === "general" && <GeneralTab client={client} room={room} may={may} />}
                {tab === "members" && <RoomMembers client={client} room={room} may={may} />}
                {tab === "leave" && <LeaveTab client={client} room={room} onClose={onClose} />}
            </div>
        </Modal>
    );
}
