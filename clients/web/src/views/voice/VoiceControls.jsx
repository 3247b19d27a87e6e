// The room header's voice channel controls. Filled in by the voice work.
export function VoiceControls() {
    return null;
}
