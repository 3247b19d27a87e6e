// Small inline icons for the voice controls (no emoji: not every system has an emoji font).
// Decorative: the buttons carry the words.
function Icon({ children }) {
    return (
        <svg class="voice-icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"
            fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
            {children}
        </svg>
    );
}

export function PhoneIcon() {
    return <Icon><path d="M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2" /></Icon>;
}

export function SpeakerIcon() {
    return <Icon><path d="M11 5 6 9H2v6h4l5 4z" /><path d="M15.5 8.5a5 5 0 0 1 0 7" /><path d="M19 5a10 10 0 0 1 0 14" /></Icon>;
}

export function MicIcon() {
    return <Icon><rect x="9" y="2" width="6" height="12" rx="3" /><path d="M5 10a7 7 0 0 0 14 0" /><path d="M12 17v4" /></Icon>;
}

export function MicOffIcon() {
    return (
        <Icon>
            <path d="M2 2l20 20" /><path d="M9 9v1a3 3 0 0 0 5.1 2.1" /><path d="M15 9.3V5a3 3 0 0 0-5.9-.6" />
            <path d="M17 16.9A7 7 0 0 1 5 10" /><path d="M19 10a7 7 0 0 1-.1 1.3" /><path d="M12 17v4" />
        </Icon>
    );
}
