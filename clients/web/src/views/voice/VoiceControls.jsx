// The room header's voice controls: a Call button in two-person rooms (1:1 call, shown by
// CallLayer), and the room's voice channel: who is in it (MatrixRTC member state, with the
// focus's roster for speaking and muted once we are in), Join/Leave and Mute/Unmute.
import { RoomStateEvent } from "matrix-js-sdk";
import { useEffect, useState } from "preact/hooks";
import { useEmitter } from "../../hooks.js";
import { registerStrings, t, useLanguage } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { MicIcon, MicOffIcon, PhoneIcon, SpeakerIcon } from "./icons.jsx";
import { callActive, isOneToOne, placeCall, useCurrentCall } from "./calls.js";
import {
    channelMembers, dismissError, joinChannel, leaveChannel, mayJoin, setMuted, useVoiceSession,
} from "./channel.js";
import "./voice.css";

registerStrings({
    en: {
        "voice.channel": "Voice channel",
        "voice.join": "Join voice",
        "voice.leave": "Leave voice",
        "voice.mute": "Mute",
        "voice.unmute": "Unmute",
        "voice.joining": "Connecting…",
        "voice.empty": "Nobody in voice",
        "voice.count": "{count} in voice",
        "voice.speaking": "{name} (speaking)",
        "voice.muted": "{name} (muted)",
        "voice.in_other_room": "You are in the voice channel of another room.",
        "voice.call": "Call",
        "voice.call_label": "Start a voice call with {name}",
        "voice.dismiss": "Dismiss",
        "voice.error.no_mic": "No microphone is available, so you cannot join voice. {detail}",
        "voice.error.mic_denied": "The browser did not allow the microphone. Allow it for this site and try again.",
        "voice.error.focus_refused": "The voice server refused to connect you: {detail}",
        "voice.error.focus_unreachable": "The voice server {detail} cannot be reached.",
        "voice.error.dropped": "The voice connection was lost. Join again to reconnect.",
        "voice.error.generic": "Voice failed: {detail}",
    },
    fr: {
        "voice.channel": "Salon vocal",
        "voice.join": "Rejoindre le vocal",
        "voice.leave": "Quitter le vocal",
        "voice.mute": "Couper le micro",
        "voice.unmute": "Réactiver le micro",
        "voice.joining": "Connexion…",
        "voice.empty": "Personne en vocal",
        "voice.count": "{count} en vocal",
        "voice.speaking": "{name} (parle)",
        "voice.muted": "{name} (micro coupé)",
        "voice.in_other_room": "Vous êtes dans le salon vocal d'un autre salon.",
        "voice.call": "Appeler",
        "voice.call_label": "Lancer un appel vocal avec {name}",
        "voice.dismiss": "Fermer",
        "voice.error.no_mic": "Aucun micro n'est disponible : impossible de rejoindre le vocal. {detail}",
        "voice.error.mic_denied": "Le navigateur n'a pas autorisé le micro. Autorisez-le pour ce site et réessayez.",
        "voice.error.focus_refused": "Le serveur vocal a refusé la connexion : {detail}",
        "voice.error.focus_unreachable": "Le serveur vocal {detail} est injoignable.",
        "voice.error.dropped": "La connexion vocale a été perdue. Rejoignez à nouveau pour vous reconnecter.",
        "voice.error.generic": "Échec du vocal : {detail}",
    },
});

export function voiceErrorText(error) {
    return t(error.key, { detail: error.detail || "" }).trim();
}

/** Channel members merged with the focus's roster (speaking, muted) when we are connected. */
function participants(room, session) {
    const people = new Map();
    for (const m of channelMembers(room)) {
        people.set(`${m.userId}|${m.deviceId}`, { userId: m.userId, deviceId: m.deviceId, speaking: false, muted: false });
    }
    if (session && session.roomId === room.roomId && session.status !== "ended") {
        for (const p of session.roster) {
            people.set(`${p.user_id}|${p.device_id}`, {
                userId: p.user_id, deviceId: p.device_id, speaking: !!p.speaking, muted: !!p.muted,
            });
        }
    }
    return [...people.values()];
}

function CallButton({ client, room }) {
    const call = useCurrentCall();
    const [error, setError] = useState("");
    if (!isOneToOne(room)) return null;
    const other = room.getMembers().find((m) => m.userId !== client.getUserId());
    const name = other?.name || room.name;
    const start = async () => {
        setError("");
        try {
            await placeCall(client, room);
        } catch (err) {
            setError(err.message);
        }
    };
    return (
        <>
            <button type="button" class="call-button" onClick={start} disabled={callActive(call)}
                aria-label={t("voice.call_label", { name })} title={t("voice.call_label", { name })}>
                <PhoneIcon /> {t("voice.call")}
            </button>
            {error && <span class="error" role="alert">{error}</span>}
        </>
    );
}

export function VoiceControls({ client, room }) {
    useLanguage();
    useEmitter(client, [RoomStateEvent.Events, RoomStateEvent.Members], [room?.roomId]);
    const session = useVoiceSession();
    // Expired memberships fall out of the list without any event: look again each minute.
    const [, tick] = useState(0);
    useEffect(() => {
        const timer = setInterval(() => tick((n) => n + 1), 60_000);
        return () => clearInterval(timer);
    }, []);
    if (!room) return null;

    const here = session && session.roomId === room.roomId;
    const inChannel = here && session.status !== "ended";
    const people = participants(room, session);
    const canJoin = mayJoin(client, room);
    if (!canJoin && people.length === 0) return <div class="voice-controls"><CallButton client={client} room={room} /></div>;

    const nameOf = (userId) => room.getMember(userId)?.name || userId;
    return (
        <div class="voice-controls">
            <CallButton client={client} room={room} />
            <div class="voice-channel" role="group" aria-label={t("voice.channel")}>
                <span class="voice-count" aria-live="polite">
                    <SpeakerIcon /> {people.length ? t("voice.count", { count: people.length }) : t("voice.empty")}
                </span>
                <ul class="voice-participants" aria-label={t("voice.channel")}>
                    {people.map((p) => {
                        const name = nameOf(p.userId);
                        const label = p.muted ? t("voice.muted", { name })
                            : p.speaking ? t("voice.speaking", { name }) : name;
                        return (
                            <li key={`${p.userId}|${p.deviceId}`} data-user-id={p.userId}
                                class={`voice-participant ${p.speaking ? "speaking" : ""} ${p.muted ? "muted" : ""}`}
                                aria-label={label} title={label}>
                                <Avatar client={client} mxc={room.getMember(p.userId)?.getMxcAvatarUrl()}
                                    name={name} id={p.userId} size={26} />
                                {p.muted && <span class="voice-muted-mark"><MicOffIcon /></span>}
                            </li>
                        );
                    })}
                </ul>
                {inChannel ? (
                    <>
                        <button type="button" aria-pressed={session.muted ? "true" : "false"}
                            onClick={() => setMuted(!session.muted)} disabled={session.status !== "connected"}>
                            {session.muted ? <><MicIcon /> {t("voice.unmute")}</> : <><MicOffIcon /> {t("voice.mute")}</>}
                        </button>
                        {session.status === "connecting" && <span class="muted" role="status">{t("voice.joining")}</span>}
                        <button type="button" class="danger" onClick={() => leaveChannel()}>{t("voice.leave")}</button>
                    </>
                ) : canJoin && (
                    <button type="button" class="primary" onClick={() => joinChannel(client, room)}>
                        {t("voice.join")}
                    </button>
                )}
            </div>
            {session && !here && session.status !== "ended" && (
                <span class="muted voice-elsewhere">{t("voice.in_other_room")}</span>
            )}
            {here && session.error && (
                <div class="voice-error error" role="alert">
                    {voiceErrorText(session.error)}
                    {session.status === "ended" && (
                        <button type="button" class="icon" onClick={dismissError}>{t("voice.dismiss")}</button>
                    )}
                </div>
            )}
        </div>
    );
}
