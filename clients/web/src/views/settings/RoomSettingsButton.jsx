// The room header's settings entry (room settings dialog). Filled in by the settings work.
export function RoomSettingsButton() {
    return null;
}
