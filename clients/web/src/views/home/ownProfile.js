// The signed-in user's own display name and avatar, from the profile API: matrix-js-sdk's
// User only learns them from room membership events, which a user in no room never has.
import { UserEvent } from "matrix-js-sdk";
import { useEffect, useState } from "preact/hooks";

const listeners = new Set();
let cached = null;

/** Fetches the profile again and re-renders every useOwnProfile (after a change). */
export async function refreshOwnProfile(client) {
    try {
        const p = await client.getProfileInfo(client.getUserId());
        cached = { userId: client.getUserId(), displayName: p.displayname || null, avatarUrl: p.avatar_url || null };
    } catch {
        return; // kept as it was; the header shows the user ID meanwhile
    }
    for (const listener of listeners) listener(cached);
}

/** {displayName, avatarUrl} of the signed-in user (null values while unknown or unset). */
export function useOwnProfile(client) {
    const [profile, setProfile] = useState(
        cached?.userId === client.getUserId() ? cached : { displayName: null, avatarUrl: null },
    );
    useEffect(() => {
        listeners.add(setProfile);
        refreshOwnProfile(client);
        const user = client.getUser(client.getUserId());
        const onChange = () => refreshOwnProfile(client);
        user?.on(UserEvent.DisplayName, onChange);
        user?.on(UserEvent.AvatarUrl, onChange);
        return () => {
            listeners.delete(setProfile);
            user?.removeListener(UserEvent.DisplayName, onChange);
            user?.removeListener(UserEvent.AvatarUrl, onChange);
        };
    }, [client]);
    return profile;
}
