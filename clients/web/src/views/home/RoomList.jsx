import { ClientEvent, RoomEvent } from "matrix-js-sdk";
import { useEmitter } from "../../hooks.js";
import { Avatar } from "../../ui/Avatar.jsx";

function lastActivity(room) {
    const events = room.getLiveTimeline().getEvents();
    return events.length ? events[events.length - 1].getTs() : 0;
}

export function RoomList({ client, selected }) {
    useEmitter(client, [ClientEvent.Room, RoomEvent.Timeline, RoomEvent.Name, RoomEvent.MyMembership]);
    const rooms = client.getVisibleRooms().filter((r) => r.getMyMembership() === "join")
        .sort((a, b) => lastActivity(b) - lastActivity(a));
    return (
        <nav class="room-list" aria-label="Rooms">
            <ul>
                {rooms.map((room) => (
                    <li key={room.roomId}>
                        <a href={`#/room/${encodeURIComponent(room.roomId)}`}
                            class={room.roomId === selected ? "selected" : ""}
                            aria-current={room.roomId === selected ? "page" : undefined}>
                            <Avatar client={client} mxc={room.getMxcAvatarUrl()} name={room.name} id={room.roomId} />
                            <span class="room-name">{room.name}</span>
                        </a>
                    </li>
                ))}
            </ul>
        </nav>
    );
}
