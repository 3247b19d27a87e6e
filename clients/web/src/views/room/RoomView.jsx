// A conversation: header (name, encryption, search, voice and settings slots), the
// timeline, who is typing, uploads in progress, and the composer. Files can be attached
// with the button, dropped onto the conversation, or pasted into the composer.
import { ClientEvent, EventType, MatrixEventEvent, RoomEvent, RoomMemberEvent, RoomStateEvent } from "matrix-js-sdk";
import { useEffect, useRef, useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { useEmitter } from "../../hooks.js";
import { t, useLanguage } from "../../i18n.js";
import { Modal } from "../../ui/Modal.jsx";
import { RoomSettingsButton } from "../settings/RoomSettingsButton.jsx";
import { VoiceControls } from "../voice/VoiceControls.jsx";
import { Composer } from "./Composer.jsx";
import { Icon } from "./icons.jsx";
import { ImageViewer } from "./ImageViewer.jsx";
import { SearchPanel } from "./SearchPanel.jsx";
import { Timeline } from "./Timeline.jsx";
import { typingSentence } from "./timeline.js";
import { useUploads } from "./uploads.js";
import "./strings.js";
import "./room.css";

const ROOM_EVENTS = [
    RoomEvent.Timeline, RoomEvent.TimelineReset, RoomEvent.LocalEchoUpdated, RoomEvent.Name,
    RoomEvent.Redaction, RoomEvent.RedactionCancelled, RoomEvent.Receipt,
];
const CLIENT_EVENTS = [ClientEvent.Room, ClientEvent.Sync, MatrixEventEvent.Decrypted, RoomMemberEvent.Typing, RoomStateEvent.Events, RoomMemberEvent.Name];

function lastOwnEditable(room, me) {
    const events = room.getLiveTimeline().getEvents();
    for (let i = events.length - 1; i >= 0; i--) {
        const ev = events[i];
        if (ev.getSender() !== me || ev.getType() !== EventType.RoomMessage || ev.isRedacted()) continue;
        if (ev.isRelation("m.replace") || ev.status || ev.getId()?.startsWith("~")) continue;
        if (["m.text", "m.emote", "m.notice"].includes(ev.getContent().msgtype)) return ev;
    }
    return null;
}

function Uploads({ uploads, dismiss }) {
    if (!uploads.length) return null;
    return (
        <ul class="uploads">
            {uploads.map((u) => (
                <li key={u.id} class={u.error ? "upload failed" : "upload"}>
                    {u.error
                        ? <span class="error" role="alert">{u.error}</span>
                        : (
                            <label>
                                <span>{t("room.uploading", { name: u.name })}</span>
                                <progress max={u.total || 1} value={u.loaded || 0} />
                            </label>
                        )}
                    {u.error && <button class="icon" aria-label={t("room.dismiss")} onClick={() => dismiss(u.id)}><Icon name="close" /></button>}
                </li>
            ))}
        </ul>
    );
}

function DeleteDialog({ client, ev, onClose }) {
    const [error, setError] = useState("");
    const remove = async () => {
        try {
            await client.redactEvent(ev.getRoomId(), ev.getId());
            onClose();
        } catch (err) {
            setError(describeError(err));
        }
    };
    return (
        <Modal title={t("room.delete_title")} onClose={onClose}>
            <p>{t("room.delete_confirm")}</p>
            {error && <p class="error" role="alert">{error}</p>}
            <div class="dialog-buttons">
                <button class="secondary" onClick={onClose}>{t("common.cancel")}</button>
                <button class="danger" onClick={remove}>{t("room.delete")}</button>
            </div>
        </Modal>
    );
}

export function RoomView({ client, roomId }) {
    useLanguage();
    const room = client.getRoom(roomId);
    useEmitter(room, ROOM_EVENTS, [roomId]);
    useEmitter(client, CLIENT_EVENTS, [roomId]);
    const [replyTo, setReplyTo] = useState(null);
    const [editing, setEditing] = useState(null);
    const [viewing, setViewing] = useState(null);
    const [deleting, setDeleting] = useState(null);
    const [searching, setSearching] = useState(false);
    const [jump, setJump] = useState(null);
    const [notice, setNotice] = useState("");
    const [dragging, setDragging] = useState(false);
    const [sentCount, setSentCount] = useState(0);
    const fileInput = useRef(null);
    const { uploads, send: sendFiles, dismiss } = useUploads(client, room);

    useEffect(() => {
        room?.loadMembersIfNeeded().catch((err) => console.warn("members not loaded", roomId, err));
    }, [roomId, Boolean(room)]);

    if (!room) {
        // Before the first sync after a reload, rooms are not known yet.
        if (!client.isInitialSyncComplete()) return <div class="room-missing" aria-busy="true">{t("common.loading")}</div>;
        return <div class="room-missing">{t("room.not_found")}</div>;
    }
    const me = client.getUserId();
    const encrypted = room.hasEncryptionStateEvent();
    const typing = room.getMembers().filter((m) => m.typing && m.userId !== me).map((m) => m.name);

    const report = (err) => setNotice(describeError(err));
    const handlers = {
        onReply: (ev) => {
            setEditing(null);
            setReplyTo(ev);
        },
        onEdit: (ev) => {
            setReplyTo(null);
            setEditing(ev);
        },
        onDelete: (ev) => setDeleting(ev),
        onOpenImage: (content) => setViewing(content),
        onJump: (eventId) => setJump({ eventId, at: Date.now() }),
        onReact: (ev, key) => {
            const relations = room.relations.getChildEventsForEvent(ev.getId(), "m.annotation", "m.reaction");
            const mine = relations?.getAnnotationsBySender()?.[me];
            if (mine && [...mine].some((e) => e.getRelation()?.key === key && !e.isRedacted())) return;
            client.sendEvent(roomId, "m.reaction", {
                "m.relates_to": { rel_type: "m.annotation", event_id: ev.getId(), key },
            }).catch(report);
        },
        onToggleReaction: (ev, key, mine) => {
            if (mine) {
                if (mine.status) client.cancelPendingEvent(mine);
                else client.redactEvent(roomId, mine.getId()).catch(report);
            } else handlers.onReact(ev, key);
        },
    };

    const onDrop = (e) => {
        e.preventDefault();
        setDragging(false);
        const files = [...(e.dataTransfer?.files || [])];
        if (files.length) sendFiles(files);
    };

    return (
        <section class={`room-view ${dragging ? "dragging" : ""}`} aria-label={room.name}
            onDragOver={(e) => {
                if ([...(e.dataTransfer?.types || [])].includes("Files")) {
                    e.preventDefault();
                    setDragging(true);
                }
            }}
            onDragLeave={(e) => e.currentTarget === e.target && setDragging(false)}
            onDrop={onDrop}>
            <header class="room-header">
                <a class="back-to-rooms" href="#/home" aria-label={t("room.back")}><Icon name="back" /></a>
                <h2>{room.name}</h2>
                {encrypted && (
                    <span class="encrypted-badge" title={t("room.encrypted_title")}>
                        <Icon name="lock" size={14} /> {t("room.encrypted")}
                    </span>
                )}
                <button class="icon search-toggle" aria-label={t("room.search")} aria-pressed={searching ? "true" : "false"}
                    onClick={() => setSearching(!searching)}><Icon name="search" /></button>
                <VoiceControls client={client} room={room} />
                <RoomSettingsButton client={client} room={room} />
            </header>
            {encrypted && !client.getCrypto() && <p class="error crypto-warning" role="alert">{t("room.crypto_unavailable")}</p>}
            {searching && (
                <SearchPanel client={client} room={room} onClose={() => setSearching(false)}
                    onJump={(eventId) => {
                        setNotice("");
                        setJump({ eventId, at: Date.now() });
                    }} />
            )}
            <Timeline client={client} room={room} handlers={handlers} jump={jump} scrollToEnd={sentCount}
                onJumpFailed={() => setNotice(t("room.jump_failed"))} />
            {notice && (
                <div class="room-notice" role="alert">
                    <span class="error">{notice}</span>
                    <button class="icon" aria-label={t("room.dismiss")} onClick={() => setNotice("")}><Icon name="close" /></button>
                </div>
            )}
            <div class="typing" aria-live="polite">{typingSentence(typing)}</div>
            <Uploads uploads={uploads} dismiss={dismiss} />
            <Composer client={client} room={room} replyTo={replyTo} editing={editing}
                onCancelReply={() => setReplyTo(null)} onCancelEdit={() => setEditing(null)}
                onEditLast={() => {
                    const ev = lastOwnEditable(room, me);
                    if (ev) handlers.onEdit(ev);
                    return Boolean(ev);
                }}
                onSent={() => setSentCount((n) => n + 1)}
                onAttach={() => fileInput.current?.click()} onPasteFiles={sendFiles} />
            <input ref={fileInput} type="file" multiple class="visually-hidden" tabIndex={-1} aria-hidden="true"
                onChange={(e) => {
                    sendFiles([...e.currentTarget.files]);
                    e.currentTarget.value = "";
                }} />
            {dragging && <div class="drop-overlay" aria-hidden="true">{t("room.drop_here")}</div>}
            {viewing && <ImageViewer client={client} content={viewing} onClose={() => setViewing(null)} />}
            {deleting && <DeleteDialog client={client} ev={deleting} onClose={() => setDeleting(null)} />}
        </section>
    );
}
