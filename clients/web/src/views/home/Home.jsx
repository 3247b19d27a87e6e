// The signed-in layout: spaces bar, sidebar (you, notifications, rooms), and the page
// the route names (#/room/<id>, #/friends, #/settings, #/space/<id>).
import { useEffect, useState } from "preact/hooks";
import { registerStrings, t, useLanguage } from "../../i18n.js";
import { ConnectionBanner } from "../../ui/ConnectionBanner.jsx";
import { Friends } from "../friends/Friends.jsx";
import { RoomView } from "../room/RoomView.jsx";
import { Settings } from "../settings/Settings.jsx";
import { CallLayer } from "../voice/CallLayer.jsx";
import { CreateRoomDialog } from "./CreateRoomDialog.jsx";
import { JoinRoomDialog } from "./JoinRoomDialog.jsx";
import { NotificationZone } from "./NotificationZone.jsx";
import { RoomList } from "./RoomList.jsx";
import { SpaceRoomList, SpaceView } from "./SpaceView.jsx";
import { SpaceBar } from "./SpaceBar.jsx";
import { UserHeader } from "./UserHeader.jsx";
import "./home.css";

registerStrings({
    en: {
        "home.welcome": "Pick a conversation on the left, or start one.",
        "home.back": "← Conversations",
        "home.create_room": "Create a room",
        "home.join_room": "Join a room",
    },
    fr: {
        "home.welcome": "Choisissez une conversation à gauche, ou commencez-en une.",
        "home.back": "← Conversations",
        "home.create_room": "Créer un salon",
        "home.join_room": "Rejoindre un salon",
    },
});

const PAGES = new Set(["room", "friends", "settings", "space"]);

export function Home({ client, route, onSignOut }) {
    useLanguage();
    const [page, arg] = route;
    const [space, setSpace] = useState(page === "space" ? arg : null);
    const [dialog, setDialog] = useState(null);
    const currentSpace = page === "space" ? arg : space;
    useEffect(() => {
        if (page === "space" && arg) setSpace(arg);
    }, [page, arg]);
    const roomId = page === "room" ? arg : null;

    let content;
    if (roomId) content = <RoomView key={roomId} client={client} roomId={roomId} />;
    else if (page === "friends") content = <Friends client={client} />;
    else if (page === "settings") content = <Settings client={client} onSignOut={onSignOut} />;
    else if (page === "space" && arg) content = <SpaceView key={arg} client={client} spaceId={arg} />;
    else content = <div class="welcome"><p>{t("home.welcome")}</p></div>;
    const hasPage = PAGES.has(page) && Boolean(arg || page === "friends" || page === "settings");

    return (
        <div class={`home ${hasPage ? "has-room" : ""}`}>
            <ConnectionBanner client={client} />
            <SpaceBar client={client} selected={currentSpace} onSelect={setSpace} />
            <aside class="sidebar">
                <UserHeader client={client} onSignOut={onSignOut} page={page} />
                <NotificationZone client={client} />
                <div class="sidebar-actions">
                    <button type="button" onClick={() => setDialog("create")}>{t("home.create_room")}</button>
                    <button type="button" class="secondary" onClick={() => setDialog("join")}>{t("home.join_room")}</button>
                </div>
                {currentSpace
                    ? <SpaceRoomList key={currentSpace} client={client} spaceId={currentSpace} selected={roomId} />
                    : <RoomList client={client} selected={roomId} />}
            </aside>
            <main class="content">
                <a class="mobile-back" href="#/home">{t("home.back")}</a>
                {content}
            </main>
            {dialog === "create" && (
                <CreateRoomDialog client={client} spaceId={currentSpace} onClose={() => setDialog(null)} />
            )}
            {dialog === "join" && <JoinRoomDialog client={client} onClose={() => setDialog(null)} />}
            <CallLayer client={client} />
        </div>
    );
}
