import { EventType, MsgType, RoomEvent } from "matrix-js-sdk";
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { useEmitter } from "../../hooks.js";
import { formatTime, registerStrings, t } from "../../i18n.js";
import { RoomSettingsButton } from "../settings/RoomSettingsButton.jsx";
import { VoiceControls } from "../voice/VoiceControls.jsx";
import "./room.css";

registerStrings({
    en: { "room.composer": "Message {room}", "room.send": "Send", "room.not_found": "You are not in this room." },
    fr: { "room.composer": "Message pour {room}", "room.send": "Envoyer", "room.not_found": "Vous n'êtes pas dans ce salon." },
});

export function RoomView({ client, roomId }) {
    const room = client.getRoom(roomId);
    useEmitter(room, [RoomEvent.Timeline, RoomEvent.LocalEchoUpdated, RoomEvent.Name], [roomId]);
    const [text, setText] = useState("");
    const [error, setError] = useState("");
    if (!room) return <div class="room-missing">{t("room.not_found")}</div>;
    const events = room.getLiveTimeline().getEvents().filter((e) => e.getType() === EventType.RoomMessage);
    const send = async (e) => {
        e.preventDefault();
        const body = text.trim();
        if (!body) return;
        setText("");
        try {
            await client.sendMessage(roomId, { msgtype: MsgType.Text, body });
        } catch (err) {
            setText(body);
            setError(describeError(err));
        }
    };
    return (
        <section class="room-view" aria-label={room.name}>
            <header class="room-header">
                <h2>{room.name}</h2>
                <VoiceControls client={client} room={room} />
                <RoomSettingsButton client={client} room={room} />
            </header>
            <ol class="timeline">
                {events.map((ev) => (
                    <li key={ev.getId()} class="message">
                        <span class="sender">{ev.sender?.name || ev.getSender()}</span>
                        <span class="body">{ev.getContent().body}</span>
                        <time>{formatTime(ev.getTs())}</time>
                    </li>
                ))}
            </ol>
            {error && <p class="error" role="alert">{error}</p>}
            <form class="composer" onSubmit={send}>
                <textarea aria-label={t("room.composer", { room: room.name })} value={text} rows={1}
                    placeholder={t("room.composer", { room: room.name })}
                    onInput={(e) => setText(e.currentTarget.value)}
                    onKeyDown={(e) => {
                        if (e.key === "Enter" && !e.shiftKey) send(e);
                    }} />
                <button type="submit" class="primary">{t("room.send")}</button>
            </form>
        </section>
    );
}
