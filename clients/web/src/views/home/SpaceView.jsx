// A space ("server"): its rooms from the hierarchy, in the sidebar and as a page
// (#/space/<id>) where rooms can be joined, created in the space, or added to it.
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { navigate } from "../../hooks.js";
import { registerStrings, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { RoomSettingsButton } from "../settings/RoomSettingsButton.jsx";
import { CreateRoomDialog } from "./CreateRoomDialog.jsx";
import { RoomEntry, sidebarRooms } from "./RoomList.jsx";
import { addRoomToSpace } from "./roomCreation.js";
import { useSidebarEvents, waitForRoom } from "./roomInfo.js";
import { canJoinDirectly, useHierarchy } from "./useHierarchy.js";

registerStrings({
    en: {
        "space.rooms": "Rooms in this space",
        "space.empty": "No rooms in this space yet.",
        "space.join": "Join",
        "space.knock": "Ask to join",
        "space.knocked": "Request sent",
        "space.open": "Open",
        "space.members": "{count} members",
        "space.create_room": "Create a room here",
        "space.add_existing": "Add an existing room",
        "space.add": "Add",
        "space.pick_room": "Room to add",
        "space.not_joined": "You are not in this space.",
        "space.overview": "Overview",
    },
    fr: {
        "space.rooms": "Salons de cet espace",
        "space.empty": "Aucun salon dans cet espace pour l'instant.",
        "space.join": "Rejoindre",
        "space.knock": "Demander à rejoindre",
        "space.knocked": "Demande envoyée",
        "space.open": "Ouvrir",
        "space.members": "{count} membres",
        "space.create_room": "Créer un salon ici",
        "space.add_existing": "Ajouter un salon existant",
        "space.add": "Ajouter",
        "space.pick_room": "Salon à ajouter",
        "space.not_joined": "Vous n'êtes pas dans cet espace.",
        "space.overview": "Vue d'ensemble",
    },
});

function useJoin(client) {
    const [busy, setBusy] = useState(null);
    const [error, setError] = useState("");
    const [knocked, setKnocked] = useState(new Set());
    const run = async (chunk, spaceId, knock) => {
        setBusy(chunk.room_id);
        setError("");
        try {
            const via = [spaceId.slice(spaceId.indexOf(":") + 1)];
            if (knock) {
                await client.knockRoom(chunk.room_id, { viaServers: via });
                setKnocked((s) => new Set([...s, chunk.room_id]));
            } else {
                await client.joinRoom(chunk.room_id, { viaServers: via });
                await waitForRoom(client, chunk.room_id);
                navigate("room", chunk.room_id);
            }
        } catch (err) {
            setError(describeError(err));
        } finally {
            setBusy(null);
        }
    };
    return { busy, error, knocked, run };
}

function JoinButtons({ client, chunk, spaceId, join }) {
    const membership = client.getRoom(chunk.room_id)?.getMyMembership();
    if (membership === "join") {
        return <a class="button-link" href={`#/room/${encodeURIComponent(chunk.room_id)}`}>{t("space.open")}</a>;
    }
    if (membership === "knock" || join.knocked.has(chunk.room_id)) return <span class="muted">{t("space.knocked")}</span>;
    const label = chunk.name || chunk.canonical_alias || chunk.room_id;
    if (chunk.join_rule === "knock") {
        return (
            <button type="button" disabled={join.busy === chunk.room_id} aria-label={`${t("space.knock")}: ${label}`}
                onClick={() => join.run(chunk, spaceId, true)}>{t("space.knock")}</button>
        );
    }
    if (!canJoinDirectly(chunk)) return null;
    return (
        <button type="button" class="primary" disabled={join.busy === chunk.room_id} aria-label={`${t("space.join")}: ${label}`}
            onClick={() => join.run(chunk, spaceId, false)}>{t("space.join")}</button>
    );
}

/** The sidebar in a space: its rooms, joined ones as conversations, the others to join. */
export function SpaceRoomList({ client, spaceId, selected }) {
    useSidebarEvents(client);
    const { rooms, error, loading } = useHierarchy(client, spaceId);
    const join = useJoin(client);
    const space = client.getRoom(spaceId);
    return (
        <nav class="room-list space-rooms" aria-label={space?.name || spaceId}>
            <section>
                <h2><a href={`#/space/${encodeURIComponent(spaceId)}`}>{space?.name || spaceId}</a></h2>
                {error && <p class="error" role="alert">{error}</p>}
                {join.error && <p class="error" role="alert">{join.error}</p>}
                {!loading && !rooms.length && !error && <p class="muted empty">{t("space.empty")}</p>}
                <ul class="rooms">
                    {rooms.map((chunk) => {
                        const room = client.getRoom(chunk.room_id);
                        if (room?.getMyMembership() === "join") {
                            return <RoomEntry key={chunk.room_id} client={client} room={room} selected={selected} />;
                        }
                        return (
                            <li key={chunk.room_id} class="joinable">
                                <Avatar client={client} mxc={chunk.avatar_url} name={chunk.name} id={chunk.room_id} />
                                <span class="room-text"><span class="room-name">{chunk.name || chunk.room_id}</span></span>
                                <JoinButtons client={client} chunk={chunk} spaceId={spaceId} join={join} />
                            </li>
                        );
                    })}
                </ul>
            </section>
        </nav>
    );
}

/** The space's page: what it holds, and ways to add to it. */
export function SpaceView({ client, spaceId }) {
    useSidebarEvents(client);
    const { rooms, error, loading, reload } = useHierarchy(client, spaceId);
    const join = useJoin(client);
    const [creating, setCreating] = useState(false);
    const [adding, setAdding] = useState("");
    const [addError, setAddError] = useState("");
    const space = client.getRoom(spaceId);
    if (!space || space.getMyMembership() !== "join") return <div class="welcome"><p>{t("space.not_joined")}</p></div>;
    const inSpace = new Set(rooms.map((r) => r.room_id));
    const candidates = sidebarRooms(client)[0].filter((r) => !inSpace.has(r.roomId));
    const add = async (e) => {
        e.preventDefault();
        if (!adding) return;
        setAddError("");
        try {
            await addRoomToSpace(client, spaceId, adding);
            setAdding("");
            reload();
        } catch (err) {
            setAddError(describeError(err));
        }
    };
    return (
        <section class="space-view page" aria-labelledby="space-title">
            <header class="page-header">
                <Avatar client={client} mxc={space.getMxcAvatarUrl()} name={space.name} id={spaceId} size={40} />
                <h1 id="space-title">{space.name}</h1>
                <RoomSettingsButton client={client} room={space} />
            </header>
            {space.currentState.getStateEvents("m.room.topic", "")?.getContent().topic && (
                <p class="muted">{space.currentState.getStateEvents("m.room.topic", "").getContent().topic}</p>
            )}
            <h2>{t("space.rooms")}</h2>
            {error && <p class="error" role="alert">{error}</p>}
            {join.error && <p class="error" role="alert">{join.error}</p>}
            {loading && <p class="muted" aria-busy="true">{t("common.loading")}</p>}
            {!loading && !rooms.length && !error && <p class="muted">{t("space.empty")}</p>}
            <ul class="card-list hierarchy">
                {rooms.map((chunk) => (
                    <li key={chunk.room_id} class="card" data-room-id={chunk.room_id}>
                        <Avatar client={client} mxc={chunk.avatar_url} name={chunk.name} id={chunk.room_id} size={36} />
                        <span class="card-text">
                            <strong>{chunk.name || chunk.canonical_alias || chunk.room_id}</strong>
                            {chunk.topic && <small>{chunk.topic}</small>}
                            <small class="muted">{t("space.members", { count: chunk.num_joined_members })}</small>
                        </span>
                        <JoinButtons client={client} chunk={chunk} spaceId={spaceId} join={join} />
                    </li>
                ))}
            </ul>
            <div class="space-actions">
                <button type="button" class="primary" onClick={() => setCreating(true)}>{t("space.create_room")}</button>
                {candidates.length > 0 && (
                    <form class="inline-form" onSubmit={add}>
                        <label>{t("space.add_existing")}
                            <select value={adding} onChange={(e) => setAdding(e.currentTarget.value)}
                                aria-label={t("space.pick_room")}>
                                <option value="">—</option>
                                {candidates.map((r) => <option key={r.roomId} value={r.roomId}>{r.name}</option>)}
                            </select>
                        </label>
                        <button type="submit" disabled={!adding}>{t("space.add")}</button>
                    </form>
                )}
            </div>
            {addError && <p class="error" role="alert">{addError}</p>}
            {creating && (
                <CreateRoomDialog client={client} spaceId={spaceId} onClose={() => setCreating(false)}
                    onCreated={(roomId) => {
                        reload();
                        navigate("room", roomId);
                    }} />
            )}
        </section>
    );
}
