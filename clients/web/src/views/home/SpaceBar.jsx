// The vertical switcher at the far left: Home (every conversation) and each joined space.
import { useState } from "preact/hooks";
import { navigate } from "../../hooks.js";
import { registerStrings, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { CreateRoomDialog } from "./CreateRoomDialog.jsx";
import { joinedSpaces, useSidebarEvents } from "./roomInfo.js";

registerStrings({
    en: { "spaces.nav": "Spaces", "spaces.home": "Home", "spaces.create": "Create a space" },
    fr: { "spaces.nav": "Espaces", "spaces.home": "Accueil", "spaces.create": "Créer un espace" },
});

export function SpaceBar({ client, selected, onSelect }) {
    useSidebarEvents(client);
    const [creating, setCreating] = useState(false);
    const spaces = joinedSpaces(client);
    const pick = (spaceId) => {
        onSelect(spaceId);
        if (spaceId) navigate("space", spaceId);
        else navigate("home");
    };
    return (
        <nav class="space-bar" aria-label={t("spaces.nav")}>
            <button type="button" class={`space-button ${selected ? "" : "selected"}`} aria-pressed={!selected}
                title={t("spaces.home")} aria-label={t("spaces.home")} onClick={() => pick(null)}>
                <span class="home-icon" aria-hidden="true">⌂</span>
            </button>
            {spaces.map((space) => (
                <button type="button" key={space.roomId} class={`space-button ${selected === space.roomId ? "selected" : ""}`}
                    aria-pressed={selected === space.roomId} title={space.name} aria-label={space.name}
                    onClick={() => pick(space.roomId)}>
                    <Avatar client={client} mxc={space.getMxcAvatarUrl()} name={space.name} id={space.roomId} size={40} />
                </button>
            ))}
            <button type="button" class="space-button add" title={t("spaces.create")} aria-label={t("spaces.create")}
                onClick={() => setCreating(true)}>+</button>
            {creating && (
                <CreateRoomDialog client={client} isSpace onClose={() => setCreating(false)}
                    onCreated={(spaceId) => pick(spaceId)} />
            )}
        </nav>
    );
}
