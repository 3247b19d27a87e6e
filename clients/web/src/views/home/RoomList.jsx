// The sidebar's conversations: rooms, then direct chats, each sorted by latest activity,
// with unread and mention badges, the last message, and the other person's presence.
import { registerStrings, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { presenceOf } from "../friends/friends.js";
import {
    directMap, dmPartner, lastActivity, lastMessagePreview, roomHref, unreadCounts, useSidebarEvents,
} from "./roomInfo.js";

registerStrings({
    en: {
        "rooms.title": "Rooms",
        "rooms.direct": "Direct chats",
        "rooms.none": "No rooms yet.",
        "rooms.no_direct": "No direct chats yet. Add friends to start one.",
        "rooms.unread": "{count} unread",
        "rooms.mentions": "{count} mentions",
        "rooms.nav": "Conversations",
        "presence.online": "online",
        "presence.unavailable": "away",
        "presence.offline": "offline",
    },
    fr: {
        "rooms.title": "Salons",
        "rooms.direct": "Messages directs",
        "rooms.none": "Aucun salon pour l'instant.",
        "rooms.no_direct": "Aucun message direct. Ajoutez des ami·es pour en commencer un.",
        "rooms.unread": "{count} non lus",
        "rooms.mentions": "{count} mentions",
        "rooms.nav": "Conversations",
        "presence.online": "en ligne",
        "presence.unavailable": "absent·e",
        "presence.offline": "hors ligne",
    },
});

/** Joined rooms split into [rooms, direct chats], each newest first (spaces are left out). */
export function sidebarRooms(client) {
    const direct = directMap(client);
    const rooms = [];
    const dms = [];
    for (const room of client.getVisibleRooms()) {
        if (room.getMyMembership() !== "join" || room.isSpaceRoom()) continue;
        (dmPartner(client, room, direct) ? dms : rooms).push(room);
    }
    const newest = (a, b) => lastActivity(b) - lastActivity(a);
    return [rooms.sort(newest), dms.sort(newest)];
}

export function RoomEntry({ client, room, selected, partner }) {
    const { total, highlight } = unreadCounts(room);
    const presence = partner ? presenceOf(client, partner) || "offline" : undefined;
    const preview = lastMessagePreview(room);
    const isSelected = room.roomId === selected;
    return (
        <li>
            <a href={roomHref(room.roomId)} class={`room-entry ${isSelected ? "selected" : ""} ${total ? "unread" : ""}`}
                aria-current={isSelected ? "page" : undefined} data-room-id={room.roomId}>
                <Avatar client={client} mxc={room.getMxcAvatarUrl()} name={room.name} id={room.roomId}
                    presence={presence} />
                <span class="room-text">
                    <span class="room-name">{room.name}</span>
                    {preview && <span class="room-preview">{preview}</span>}
                </span>
                {presence && <span class="visually-hidden">{t(`presence.${presence}`)}</span>}
                {highlight > 0 && (
                    <span class="badge mention" title={t("rooms.mentions", { count: highlight })}>
                        @{highlight}<span class="visually-hidden"> {t("rooms.mentions", { count: highlight })}</span>
                    </span>
                )}
                {total > 0 && (
                    <span class="badge unread-count" title={t("rooms.unread", { count: total })}>
                        {total}<span class="visually-hidden"> {t("rooms.unread", { count: total })}</span>
                    </span>
                )}
            </a>
        </li>
    );
}

export function RoomList({ client, selected }) {
    useSidebarEvents(client);
    const [rooms, dms] = sidebarRooms(client);
    const direct = directMap(client);
    return (
        <nav class="room-list" aria-label={t("rooms.nav")}>
            <section aria-labelledby="rooms-title">
                <h2 id="rooms-title">{t("rooms.title")}</h2>
                {rooms.length ? (
                    <ul class="rooms">
                        {rooms.map((room) => <RoomEntry key={room.roomId} client={client} room={room} selected={selected} />)}
                    </ul>
                ) : <p class="muted empty">{t("rooms.none")}</p>}
            </section>
            <section aria-labelledby="direct-title">
                <h2 id="direct-title">{t("rooms.direct")}</h2>
                {dms.length ? (
                    <ul class="direct-chats">
                        {dms.map((room) => (
                            <RoomEntry key={room.roomId} client={client} room={room} selected={selected}
                                partner={dmPartner(client, room, direct)} />
                        ))}
                    </ul>
                ) : <p class="muted empty">{t("rooms.no_direct")}</p>}
            </section>
        </nav>
    );
}
