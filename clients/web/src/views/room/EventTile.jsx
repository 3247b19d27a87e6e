// One message in the timeline: sender and avatar (unless grouped with the one before),
// the quoted message it replies to, its body, reactions, who has read up to it, and its
// actions (react, reply, edit, delete).
import { EventStatus } from "matrix-js-sdk";
import { useState } from "preact/hooks";
import { formatTime, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { Icon } from "./icons.jsx";
import { MessageBody, ReplyQuote } from "./MessageBody.jsx";

/** The sender's current name in the room (events loaded from history may carry none). */
export function senderName(room, ev) {
    const id = ev.getSender();
    const then = ev.sender?.name;
    return then && then !== id ? then : room.getMember(id)?.name || then || id;
}

export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];

function reactionGroups(room, ev) {
    const relations = room.relations.getChildEventsForEvent(ev.getId(), "m.annotation", "m.reaction");
    if (!relations) return [];
    return relations.getSortedAnnotationsByKey()
        .map(([key, events]) => [key, [...events].filter((e) => !e.isRedacted())])
        .filter(([, events]) => events.length > 0);
}

function Reactions({ client, room, ev, onToggle }) {
    const me = client.getUserId();
    const groups = reactionGroups(room, ev);
    if (!groups.length) return null;
    return (
        <div class="reactions">
            {groups.map(([key, events]) => {
                const mine = events.some((e) => e.getSender() === me);
                const names = events.map((e) => room.getMember(e.getSender())?.name || e.getSender()).join(", ");
                return (
                    <button key={key} class={`reaction ${mine ? "mine" : ""}`} aria-pressed={mine ? "true" : "false"}
                        title={names} aria-label={t("room.reaction", { emoji: key, names })}
                        onClick={() => onToggle(ev, key, events.find((e) => e.getSender() === me))}>
                        <span aria-hidden="true">{key}</span> <span class="count">{events.length}</span>
                    </button>
                );
            })}
        </div>
    );
}

function Receipts({ client, room, userIds }) {
    if (!userIds?.length) return null;
    const members = userIds.map((id) => room.getMember(id) || { userId: id, name: id });
    const names = members.map((m) => m.name).join(", ");
    const shown = members.slice(0, 5);
    return (
        <div class="receipts" title={t("room.seen_by", { names })}>
            <span class="visually-hidden">{t("room.seen_by", { names })}</span>
            {shown.map((m) => (
                <Avatar key={m.userId} client={client} mxc={m.getMxcAvatarUrl?.()} name={m.name} id={m.userId} size={16} />
            ))}
            {members.length > shown.length && <small aria-hidden="true">+{members.length - shown.length}</small>}
        </div>
    );
}

function Actions({ ev, own, canDelete, canEdit, onReact, onReply, onEdit, onDelete }) {
    const [picker, setPicker] = useState(false);
    return (
        <div class="message-actions" role="toolbar" aria-label={t("room.options")}>
            <button class="icon" aria-label={t("room.react")} aria-expanded={picker ? "true" : "false"}
                onClick={() => setPicker(!picker)}><Icon name="react" /></button>
            <button class="icon" aria-label={t("room.reply")} onClick={() => onReply(ev)}><Icon name="reply" /></button>
            {own && canEdit && <button class="icon" aria-label={t("room.edit")} onClick={() => onEdit(ev)}><Icon name="edit" /></button>}
            {canDelete && <button class="icon" aria-label={t("room.delete")} onClick={() => onDelete(ev)}><Icon name="trash" /></button>}
            {picker && (
                <div class="emoji-picker" onKeyDown={(e) => e.key === "Escape" && setPicker(false)}>
                    {QUICK_EMOJI.map((emoji) => (
                        <button key={emoji} class="icon" aria-label={t("room.react_with", { emoji })}
                            onClick={() => {
                                setPicker(false);
                                onReact(ev, emoji);
                            }}>{emoji}</button>
                    ))}
                </div>
            )}
        </div>
    );
}

export function EventTile({ client, room, ev, continuation, readers, highlighted, handlers }) {
    const me = client.getUserId();
    const own = ev.getSender() === me;
    const name = senderName(room, ev);
    const redacted = ev.isRedacted();
    const pending = ev.status === EventStatus.SENDING || ev.status === EventStatus.QUEUED
        || ev.status === EventStatus.ENCRYPTING;
    const failed = ev.status === EventStatus.NOT_SENT;
    const sent = (!ev.status || ev.status === EventStatus.SENT) && !ev.getId()?.startsWith("~");
    const content = ev.getContent();
    const canEdit = sent && !redacted && ev.getType() === "m.room.message"
        && ["m.text", "m.emote", "m.notice"].includes(content.msgtype);
    const canDelete = sent && !redacted && room.currentState.maySendRedactionForEvent(ev, me);
    const replyId = !redacted ? ev.replyEventId : undefined;
    const classes = ["message", continuation ? "continuation" : "", own ? "own" : "", pending ? "pending" : "",
        failed ? "failed" : "", highlighted ? "highlighted" : ""].filter(Boolean).join(" ");
    return (
        <li class={classes} data-event-id={ev.getId()} id={`event-${ev.getId()}`}>
            <div class="gutter">
                {continuation
                    ? <time class="hover-time" dateTime={new Date(ev.getTs()).toISOString()}>{formatTime(ev.getTs())}</time>
                    : <Avatar client={client} mxc={(room.getMember(ev.getSender()) || ev.sender)?.getMxcAvatarUrl()} name={name} id={ev.getSender()} size={32} />}
            </div>
            <div class="message-main">
                {continuation
                    ? <span class="visually-hidden">{name}</span>
                    : (
                        <div class="message-meta">
                            <span class="sender">{name}</span>
                            <time dateTime={new Date(ev.getTs()).toISOString()}>{formatTime(ev.getTs())}</time>
                        </div>
                    )}
                {replyId && <ReplyQuote client={client} room={room} eventId={replyId} onJump={handlers.onJump} />}
                <div class="message-content">
                    <MessageBody client={client} ev={ev} onOpenImage={handlers.onOpenImage} />
                    {!redacted && ev.replacingEventId() && <small class="edited muted">{t("room.edited")}</small>}
                    {pending && <small class="status muted">{t("room.sending")}</small>}
                    {failed && <small class="status error">{t("room.not_sent")}</small>}
                </div>
                {!redacted && <Reactions client={client} room={room} ev={ev} onToggle={handlers.onToggleReaction} />}
                <Receipts client={client} room={room} userIds={readers} />
            </div>
            {sent && !redacted && (
                <Actions ev={ev} own={own} canDelete={canDelete} canEdit={canEdit} onReact={handlers.onReact}
                    onReply={handlers.onReply} onEdit={handlers.onEdit} onDelete={handlers.onDelete} />
            )}
        </li>
    );
}
