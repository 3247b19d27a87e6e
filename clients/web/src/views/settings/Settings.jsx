// #/settings: my profile (name, picture), password, devices, language, signing out.
import { UserEvent } from "matrix-js-sdk";
import { useEffect, useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { useEmitter } from "../../hooks.js";
import { LANGUAGES, formatDay, language, registerStrings, setLanguage, t, useLanguage } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { refreshOwnProfile } from "../home/ownProfile.js";
import { withPassword } from "./uia.js";
import { Feedback, useAction } from "./action.jsx";
import "./settings.css";

registerStrings({
    en: {
        "settings.title": "Settings",
        "settings.profile": "Profile",
        "settings.display_name": "Display name",
        "settings.avatar": "Profile picture",
        "settings.saved": "Saved.",
        "settings.password": "Password",
        "settings.current_password": "Current password",
        "settings.new_password": "New password",
        "settings.confirm_password": "New password again",
        "settings.mismatch": "The two new passwords differ.",
        "settings.logout_others": "Sign out my other devices",
        "settings.change_password": "Change password",
        "settings.password_changed": "Password changed.",
        "settings.devices": "Devices",
        "settings.this_device": "This device",
        "settings.last_seen": "Last seen {when}",
        "settings.remove_device": "Remove",
        "settings.confirm_remove": "Your password, to remove {device}",
        "settings.device_removed": "Device removed.",
        "settings.language": "Language",
        "settings.session": "Session",
        "settings.signout": "Sign out on this device",
    },
    fr: {
        "settings.title": "Paramètres",
        "settings.profile": "Profil",
        "settings.display_name": "Nom affiché",
        "settings.avatar": "Photo de profil",
        "settings.saved": "Enregistré.",
        "settings.password": "Mot de passe",
        "settings.current_password": "Mot de passe actuel",
        "settings.new_password": "Nouveau mot de passe",
        "settings.confirm_password": "Nouveau mot de passe (encore)",
        "settings.mismatch": "Les deux nouveaux mots de passe diffèrent.",
        "settings.logout_others": "Déconnecter mes autres appareils",
        "settings.change_password": "Changer le mot de passe",
        "settings.password_changed": "Mot de passe changé.",
        "settings.devices": "Appareils",
        "settings.this_device": "Cet appareil",
        "settings.last_seen": "Vu pour la dernière fois le {when}",
        "settings.remove_device": "Supprimer",
        "settings.confirm_remove": "Votre mot de passe, pour supprimer {device}",
        "settings.device_removed": "Appareil supprimé.",
        "settings.language": "Langue",
        "settings.session": "Session",
        "settings.signout": "Se déconnecter sur cet appareil",
    },
});

function Profile({ client }) {
    const userId = client.getUserId();
    useEmitter(client, [UserEvent.DisplayName, UserEvent.AvatarUrl], [userId]);
    const user = client.getUser(userId);
    const [name, setName] = useState(user?.displayName || "");
    const [avatar, setAvatar] = useState(user?.avatarUrl || null);
    const action = useAction();
    useEffect(() => {
        client.getProfileInfo(userId).then((p) => {
            setName((n) => n || p.displayname || "");
            setAvatar(p.avatar_url || null);
        }, () => {});
    }, [userId]);
    const save = (e) => {
        e.preventDefault();
        action.run(async () => {
            await client.setDisplayName(name.trim());
            await refreshOwnProfile(client);
        }, t("settings.saved"));
    };
    const upload = (e) => {
        const file = e.currentTarget.files?.[0];
        if (!file) return;
        action.run(async () => {
            const { content_uri: url } = await client.uploadContent(file, { name: file.name, type: file.type });
            await client.setAvatarUrl(url);
            setAvatar(url);
            await refreshOwnProfile(client);
        }, t("settings.saved"));
    };
    return (
        <section aria-labelledby="profile-title" class="settings-section">
            <h2 id="profile-title">{t("settings.profile")}</h2>
            <div class="profile-row">
                <Avatar client={client} mxc={avatar} name={name} id={userId} size={72} />
                <label>{t("settings.avatar")}
                    <input type="file" name="avatar" accept="image/*" disabled={action.busy} onChange={upload} />
                </label>
            </div>
            <form class="inline-form" onSubmit={save}>
                <label>{t("settings.display_name")}
                    <input name="display-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
                </label>
                <button type="submit" class="primary" disabled={action.busy}>{t("common.save")}</button>
            </form>
            <Feedback action={action} />
        </section>
    );
}

function Password({ client }) {
    const [current, setCurrent] = useState("");
    const [next, setNext] = useState("");
    const [confirm, setConfirm] = useState("");
    const [logoutOthers, setLogoutOthers] = useState(true);
    const action = useAction();
    const submit = async (e) => {
        e.preventDefault();
        if (next !== confirm) {
            action.setError(t("settings.mismatch"));
            return;
        }
        const ok = await action.run(
            () => withPassword(client, current, (auth) => client.setPassword(auth, next, logoutOthers)),
            t("settings.password_changed"),
        );
        if (ok) {
            setCurrent("");
            setNext("");
            setConfirm("");
        }
    };
    return (
        <section aria-labelledby="password-title" class="settings-section">
            <h2 id="password-title">{t("settings.password")}</h2>
            <form class="dialog-form" onSubmit={submit}>
                <label>{t("settings.current_password")}
                    <input type="password" name="current-password" autocomplete="current-password" required value={current}
                        onInput={(e) => setCurrent(e.currentTarget.value)} />
                </label>
                <label>{t("settings.new_password")}
                    <input type="password" name="new-password" autocomplete="new-password" required value={next}
                        onInput={(e) => setNext(e.currentTarget.value)} />
                </label>
                <label>{t("settings.confirm_password")}
                    <input type="password" name="confirm-password" autocomplete="new-password" required value={confirm}
                        onInput={(e) => setConfirm(e.currentTarget.value)} />
                </label>
                <label class="choice">
                    <input type="checkbox" checked={logoutOthers} onChange={(e) => setLogoutOthers(e.currentTarget.checked)} />
                    <span>{t("settings.logout_others")}</span>
                </label>
                <Feedback action={action} />
                <div class="dialog-actions">
                    <button type="submit" class="primary" disabled={action.busy}>{t("settings.change_password")}</button>
                </div>
            </form>
        </section>
    );
}

function Devices({ client }) {
    const [devices, setDevices] = useState(null);
    const [removing, setRemoving] = useState(null);
    const [password, setPassword] = useState("");
    const action = useAction();
    const load = () => client.getDevices().then((r) => setDevices(r.devices), (err) => action.setError(describeError(err)));
    useEffect(() => {
        load();
    }, []);
    const remove = async (e) => {
        e.preventDefault();
        const ok = await action.run(
            () => withPassword(client, password, (auth) => client.deleteDevice(removing, auth)),
            t("settings.device_removed"),
        );
        if (ok) {
            setRemoving(null);
            setPassword("");
            load();
        }
    };
    const mine = client.getDeviceId();
    const sorted = (devices || []).slice().sort((a, b) => (b.device_id === mine) - (a.device_id === mine)
        || (b.last_seen_ts || 0) - (a.last_seen_ts || 0));
    return (
        <section aria-labelledby="devices-title" class="settings-section">
            <h2 id="devices-title">{t("settings.devices")}</h2>
            {devices === null && !action.error && <p class="muted" aria-busy="true">{t("common.loading")}</p>}
            <ul class="card-list devices">
                {sorted.map((d) => (
                    <li key={d.device_id} class="card device" data-device-id={d.device_id}>
                        <span class="card-text">
                            <strong>{d.display_name || d.device_id} {d.device_id === mine && <small>({t("settings.this_device")})</small>}</strong>
                            <small>{d.device_id}</small>
                            {d.last_seen_ts && <small>{t("settings.last_seen", { when: formatDay(d.last_seen_ts) })}</small>}
                        </span>
                        {d.device_id !== mine && removing !== d.device_id && (
                            <span class="actions">
                                <button type="button" class="danger" aria-label={`${t("settings.remove_device")}: ${d.device_id}`}
                                    onClick={() => {
                                        setRemoving(d.device_id);
                                        setPassword("");
                                    }}>{t("settings.remove_device")}</button>
                            </span>
                        )}
                        {removing === d.device_id && (
                            <form class="inline-form confirm-remove" onSubmit={remove}>
                                <label>{t("settings.confirm_remove", { device: d.display_name || d.device_id })}
                                    <input type="password" name="device-password" autocomplete="current-password" required
                                        value={password} autofocus onInput={(e) => setPassword(e.currentTarget.value)} />
                                </label>
                                <button type="button" class="secondary" onClick={() => setRemoving(null)}>{t("common.cancel")}</button>
                                <button type="submit" class="danger" disabled={action.busy}>{t("settings.remove_device")}</button>
                            </form>
                        )}
                    </li>
                ))}
            </ul>
            <Feedback action={action} />
        </section>
    );
}

export function Settings({ client, onSignOut }) {
    useLanguage();
    return (
        <section class="settings-page page" aria-labelledby="settings-title">
            <header class="page-header"><h1 id="settings-title">{t("settings.title")}</h1></header>
            <Profile client={client} />
            <Password client={client} />
            <Devices client={client} />
            <section aria-labelledby="language-title" class="settings-section">
                <h2 id="language-title">{t("settings.language")}</h2>
                <select aria-label={t("settings.language")} value={language()} class="language-select"
                    onChange={(e) => setLanguage(e.currentTarget.value)}>
                    {Object.entries(LANGUAGES).map(([code, name]) => <option key={code} value={code}>{name}</option>)}
                </select>
            </section>
            <section aria-labelledby="session-title" class="settings-section">
                <h2 id="session-title">{t("settings.session")}</h2>
                <button type="button" class="danger" onClick={onSignOut}>{t("settings.signout")}</button>
            </section>
        </section>
    );
}
