// Things waiting for me: invitations to rooms, friend requests (DM invites), and people
// knocking on rooms where I may invite (approve = invite them, deny = kick with a reason).
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { navigate } from "../../hooks.js";
import { registerStrings, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { acceptFriend, removeFriend } from "../friends/friends.js";
import { useSidebarEvents } from "./roomInfo.js";

registerStrings({
    en: {
        "notif.title": "Notifications",
        "notif.invite": "{user} invites you to {room}",
        "notif.friend": "{user} wants to be your friend",
        "notif.knock": "{user} asks to join {room}",
        "notif.knocking": "Waiting for approval to join {room}",
        "notif.accept": "Accept",
        "notif.decline": "Decline",
        "notif.approve": "Approve",
        "notif.deny": "Deny",
        "notif.deny_reason": "Your request to join was declined.",
        "notif.cancel_knock": "Withdraw",
    },
    fr: {
        "notif.title": "Notifications",
        "notif.invite": "{user} vous invite dans {room}",
        "notif.friend": "{user} veut devenir votre ami·e",
        "notif.knock": "{user} demande à rejoindre {room}",
        "notif.knocking": "En attente d'approbation pour rejoindre {room}",
        "notif.accept": "Accepter",
        "notif.decline": "Refuser",
        "notif.approve": "Approuver",
        "notif.deny": "Rejeter",
        "notif.deny_reason": "Votre demande pour rejoindre a été refusée.",
        "notif.cancel_knock": "Retirer",
    },
});

/** Everything the zone lists, newest kinds first: [{key, kind, room, userId, text}]. */
export function pendingItems(client) {
    const me = client.getUserId();
    const items = [];
    for (const room of client.getRooms()) {
        const membership = room.getMyMembership();
        if (membership === "invite") {
            const dmInviter = room.getDMInviter();
            const inviter = dmInviter || room.getMember(me)?.events.member?.getSender() || "";
            const who = room.getMember(inviter)?.name || inviter;
            if (dmInviter) {
                items.push({ key: `f-${room.roomId}`, kind: "friend", room, userId: inviter,
                    text: t("notif.friend", { user: who }) });
            } else {
                items.push({ key: `i-${room.roomId}`, kind: "invite", room, userId: inviter,
                    text: t("notif.invite", { user: who, room: room.name }) });
            }
        } else if (membership === "knock") {
            items.push({ key: `k-${room.roomId}`, kind: "knocking", room, userId: me,
                text: t("notif.knocking", { room: room.name }) });
        } else if (membership === "join" && room.canInvite(me)) {
            for (const member of room.getMembersWithMembership("knock")) {
                items.push({ key: `r-${room.roomId}-${member.userId}`, kind: "knock", room, userId: member.userId,
                    text: t("notif.knock", { user: member.name || member.userId, room: room.name }) });
            }
        }
    }
    return items;
}

export function NotificationZone({ client }) {
    useSidebarEvents(client);
    const [busy, setBusy] = useState(null);
    const [error, setError] = useState("");
    const items = pendingItems(client);
    if (!items.length && !error) return null;

    const act = (item, action) => async () => {
        setBusy(item.key);
        setError("");
        try {
            await action();
        } catch (err) {
            setError(describeError(err));
        } finally {
            setBusy(null);
        }
    };
    const roomId = (item) => item.room.roomId;
    const actions = {
        friend: (item) => [
            [t("notif.accept"), "primary", async () => {
                navigate("room", await acceptFriend(client, { userId: item.userId, roomId: roomId(item) }));
            }],
            [t("notif.decline"), "secondary", () => removeFriend(client, item.userId)],
        ],
        invite: (item) => [
            [t("notif.accept"), "primary", async () => {
                await client.joinRoom(roomId(item));
                navigate("room", roomId(item));
            }],
            [t("notif.decline"), "secondary", () => client.leave(roomId(item))],
        ],
        knock: (item) => [
            [t("notif.approve"), "primary", () => client.invite(roomId(item), item.userId)],
            [t("notif.deny"), "secondary", () => client.kick(roomId(item), item.userId, t("notif.deny_reason"))],
        ],
        knocking: (item) => [
            [t("notif.cancel_knock"), "secondary", () => client.leave(roomId(item))],
        ],
    };
    return (
        <section class="notification-zone" aria-labelledby="notif-title">
            <h2 id="notif-title">{t("notif.title")} <span class="count">{items.length}</span></h2>
            {error && <p class="error" role="alert">{error}</p>}
            <ul>
                {items.map((item) => (
                    <li key={item.key} class={`notification ${item.kind}`}>
                        <Avatar client={client} mxc={item.room.getMxcAvatarUrl()} name={item.room.name}
                            id={item.room.roomId} size={28} />
                        <span class="text">{item.text}</span>
                        <span class="actions">
                            {actions[item.kind](item).map(([label, cls, run]) => (
                                <button type="button" class={cls} disabled={busy === item.key}
                                    aria-label={`${label}: ${item.text}`} onClick={act(item, run)}>{label}</button>
                            ))}
                        </span>
                    </li>
                ))}
            </ul>
        </section>
    );
}
