// The members part of room settings: roles, invite by user ID, kick and ban with a
// reason, unban, and the requests to join (approve = invite, deny = kick with a reason).
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { registerStrings, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { ROLES, creatorsOf, levelOf, powerLevels } from "./powerLevels.js";

registerStrings({
    en: {
        "rm.invite": "Invite someone",
        "rm.invite_hint": "@name:server",
        "rm.invite_button": "Invite",
        "rm.invited": "Invited {user}.",
        "rm.reason": "Reason (for kicks, bans and refusals)",
        "rm.members": "Members",
        "rm.invited_list": "Invited",
        "rm.requests": "Requests to join",
        "rm.no_requests": "No one is asking to join.",
        "rm.banned": "Banned",
        "rm.role": "Role of {user}",
        "rm.role_admin": "Admin",
        "rm.role_moderator": "Moderator",
        "rm.role_member": "Member",
        "rm.role_custom": "Custom ({level})",
        "rm.role_creator": "Owner",
        "rm.kick": "Remove",
        "rm.ban": "Ban",
        "rm.unban": "Unban",
        "rm.approve": "Approve",
        "rm.deny": "Deny",
        "rm.deny_default": "Your request to join was declined.",
        "rm.you": "(you)",
    },
    fr: {
        "rm.invite": "Inviter quelqu'un",
        "rm.invite_hint": "@nom:serveur",
        "rm.invite_button": "Inviter",
        "rm.invited": "{user} a été invité·e.",
        "rm.reason": "Motif (pour les exclusions, bannissements et refus)",
        "rm.members": "Membres",
        "rm.invited_list": "Invité·es",
        "rm.requests": "Demandes pour rejoindre",
        "rm.no_requests": "Personne ne demande à rejoindre.",
        "rm.banned": "Banni·es",
        "rm.role": "Rôle de {user}",
        "rm.role_admin": "Administrateur·rice",
        "rm.role_moderator": "Modérateur·rice",
        "rm.role_member": "Membre",
        "rm.role_custom": "Personnalisé ({level})",
        "rm.role_creator": "Propriétaire",
        "rm.kick": "Exclure",
        "rm.ban": "Bannir",
        "rm.unban": "Débannir",
        "rm.approve": "Approuver",
        "rm.deny": "Refuser",
        "rm.deny_default": "Votre demande pour rejoindre a été refusée.",
        "rm.you": "(vous)",
    },
});

export function RoomMembers({ client, room, may }) {
    const me = client.getUserId();
    const [invitee, setInvitee] = useState("");
    const [reason, setReason] = useState("");
    const [busy, setBusy] = useState(null);
    const [error, setError] = useState("");
    const [done, setDone] = useState("");
    const levels = powerLevels(room);
    const creators = creatorsOf(room);
    const level = (userId) => levelOf(levels, userId, creators);
    const roomId = room.roomId;

    const act = (key, action, doneText = "") => async (e) => {
        e?.preventDefault?.();
        setBusy(key);
        setError("");
        setDone("");
        try {
            await action();
            setDone(doneText);
        } catch (err) {
            setError(describeError(err));
        } finally {
            setBusy(null);
        }
    };
    const why = () => reason.trim() || undefined;
    const byName = (a, b) => a.name.localeCompare(b.name);
    const joined = room.getMembersWithMembership("join").sort(byName);
    const invited = room.getMembersWithMembership("invite").sort(byName);
    const knocking = room.getMembersWithMembership("knock").sort(byName);
    const banned = room.getMembersWithMembership("ban").sort(byName);

    const memberRow = (member, controls) => (
        <li class="card member" key={member.userId} data-user-id={member.userId}>
            <Avatar client={client} mxc={member.getMxcAvatarUrl()} name={member.name} id={member.userId} size={32} />
            <span class="card-text">
                <strong>{member.name} {member.userId === me && <small>{t("rm.you")}</small>}</strong>
                <small>{member.userId}</small>
            </span>
            <span class="actions">{controls}</span>
        </li>
    );
    const roleSelect = (member) => {
        const theirs = level(member.userId);
        const mine = level(me);
        if (theirs === Infinity) return <span class="role creator">{t("rm.role_creator")}</span>;
        const editable = may.roles && (member.userId === me || theirs < mine);
        const custom = !ROLES.some(([, l]) => l === theirs);
        return (
            <select aria-label={t("rm.role", { user: member.name })} value={String(theirs)}
                disabled={!editable || busy === `role-${member.userId}`}
                onChange={(e) => {
                    const next = Number(e.currentTarget.value);
                    act(`role-${member.userId}`, () => client.setPowerLevel(roomId, member.userId, next))();
                }}>
                {custom && <option value={String(theirs)}>{t("rm.role_custom", { level: theirs })}</option>}
                {ROLES.filter(([, l]) => l <= mine || l === theirs).map(([name, l]) => (
                    <option key={name} value={String(l)}>{t(`rm.role_${name}`)}</option>
                ))}
            </select>
        );
    };
    const kickBan = (member) => {
        if (member.userId === me) return null;
        const above = level(me) > level(member.userId);
        return (
            <>
                {may.kick && above && (
                    <button type="button" disabled={busy !== null} aria-label={`${t("rm.kick")}: ${member.name}`}
                        onClick={act(`kick-${member.userId}`, () => client.kick(roomId, member.userId, why()))}>{t("rm.kick")}</button>
                )}
                {may.ban && above && (
                    <button type="button" class="danger" disabled={busy !== null} aria-label={`${t("rm.ban")}: ${member.name}`}
                        onClick={act(`ban-${member.userId}`, () => client.ban(roomId, member.userId, why()))}>{t("rm.ban")}</button>
                )}
            </>
        );
    };

    return (
        <div class="room-members dialog-form">
            {may.invite && (
                <form class="inline-form" onSubmit={act("invite", async () => {
                    const userId = invitee.trim();
                    await client.invite(roomId, userId);
                    setInvitee("");
                }, t("rm.invited", { user: invitee.trim() }))}>
                    <label>{t("rm.invite")}
                        <input name="invitee" value={invitee} placeholder={t("rm.invite_hint")} required
                            onInput={(e) => setInvitee(e.currentTarget.value)} />
                    </label>
                    <button type="submit" class="primary" disabled={busy === "invite"}>{t("rm.invite_button")}</button>
                </form>
            )}
            {(may.kick || may.ban || may.invite) && (
                <label>{t("rm.reason")}
                    <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
                </label>
            )}
            {error && <p class="error" role="alert">{error}</p>}
            {done && <p class="ok" role="status">{done}</p>}
            {may.invite && (
                <section aria-labelledby="rm-requests">
                    <h3 id="rm-requests">{t("rm.requests")}</h3>
                    {!knocking.length && <p class="muted">{t("rm.no_requests")}</p>}
                    <ul class="card-list knocks">
                        {knocking.map((m) => memberRow(m, (
                            <>
                                <button type="button" class="primary" disabled={busy !== null}
                                    aria-label={`${t("rm.approve")}: ${m.name}`}
                                    onClick={act(`approve-${m.userId}`, () => client.invite(roomId, m.userId))}>{t("rm.approve")}</button>
                                <button type="button" disabled={busy !== null} aria-label={`${t("rm.deny")}: ${m.name}`}
                                    onClick={act(`deny-${m.userId}`, () => client.kick(roomId, m.userId, why() || t("rm.deny_default")))}>
                                    {t("rm.deny")}
                                </button>
                            </>
                        )))}
                    </ul>
                </section>
            )}
            <section aria-labelledby="rm-members">
                <h3 id="rm-members">{t("rm.members")} ({joined.length})</h3>
                <ul class="card-list joined">
                    {joined.map((m) => memberRow(m, <>{roleSelect(m)}{kickBan(m)}</>))}
                </ul>
            </section>
            {invited.length > 0 && (
                <section aria-labelledby="rm-invited">
                    <h3 id="rm-invited">{t("rm.invited_list")}</h3>
                    <ul class="card-list invited">{invited.map((m) => memberRow(m, kickBan(m)))}</ul>
                </section>
            )}
            {banned.length > 0 && (
                <section aria-labelledby="rm-banned">
                    <h3 id="rm-banned">{t("rm.banned")}</h3>
                    <ul class="card-list banned">
                        {banned.map((m) => memberRow(m, may.ban && (
                            <button type="button" disabled={busy !== null} aria-label={`${t("rm.unban")}: ${m.name}`}
                                onClick={act(`unban-${m.userId}`, () => client.unban(roomId, m.userId))}>{t("rm.unban")}</button>
                        )))}
                    </ul>
                </section>
            )}
        </div>
    );
}
