// The signed-in layout: spaces bar, sidebar (you, notifications, rooms), and the page
// the route names (#/room/<id>, #/friends, #/settings, #/space/<id>).
import { registerStrings, t, useLanguage } from "../../i18n.js";
import { ConnectionBanner } from "../../ui/ConnectionBanner.jsx";
import { RoomView } from "../room/RoomView.jsx";
import { CallLayer } from "../voice/CallLayer.jsx";
import { RoomList } from "./RoomList.jsx";
import { UserHeader } from "./UserHeader.jsx";
import "./home.css";

registerStrings({
    en: { "home.welcome": "Pick a conversation on the left, or start one." },
    fr: { "home.welcome": "Choisissez une conversation à gauche, ou commencez-en une." },
});

export function Home({ client, route, onSignOut }) {
    useLanguage();
    const [page, arg] = route;
    const roomId = page === "room" ? arg : null;
    let content;
    if (roomId) content = <RoomView key={roomId} client={client} roomId={roomId} />;
    else content = <div class="welcome"><p>{t("home.welcome")}</p></div>;
    return (
        <div class={`home ${roomId ? "has-room" : ""}`}>
            <ConnectionBanner client={client} />
            <aside class="sidebar">
                <UserHeader client={client} onSignOut={onSignOut} />
                <RoomList client={client} selected={roomId} />
            </aside>
            <main class="content">{content}</main>
            <CallLayer client={client} />
        </div>
    );
}
