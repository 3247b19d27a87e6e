// The room header's settings entry: a button that opens the room settings dialog.
import { useState } from "preact/hooks";
import { registerStrings, t } from "../../i18n.js";
import { RoomSettingsDialog } from "./RoomSettingsDialog.jsx";

registerStrings({
    en: { "roomsettings.open": "Room settings" },
    fr: { "roomsettings.open": "Paramètres du salon" },
});

export function RoomSettingsButton({ client, room }) {
    const [open, setOpen] = useState(false);
    if (!room) return null;
    return (
        <>
            <button type="button" class="icon room-settings-button" aria-label={t("roomsettings.open")}
                title={t("roomsettings.open")} onClick={() => setOpen(true)}>⚙</button>
            {open && <RoomSettingsDialog client={client} room={room} onClose={() => setOpen(false)} />}
        </>
    );
}
