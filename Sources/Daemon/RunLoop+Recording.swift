import Control
import Domain
import Engine
import Logging
import Storage

/// The recording side of the run loop: what the engine produced goes to the recorder (and from there in batches to
/// the storage writer), spectra to the store, events to live followers.
extension RunLoop {
    /// Buffers the engine's output, stores its spectrum, and publishes its events.
    func record(_ output: EngineOutput) {
        recorder.record(output, now: batchArrival)
        // The live position shows the latest reading with finite values (JSON has no NaN).
        if let recorded = output.recorded, recorded.sample.current_A.isFinite, recorded.sample.voltage_V.isFinite {
            latestRecorded = recorded
            if !(recorded.sample.voltageWERE_V?.isFinite ?? true) { latestRecorded?.sample.voltageWERE_V = nil }
        }
        if let spectrum = output.spectrum {
            do {
                try store.appendSpectrum(
                    runID: runID, stepIndex: spectrum.stepIndex, cycle: spectrum.cycle, points: spectrum.points)
                fitInBackground(spectrum)
            } catch {
                logger.critical("run \(runID): storing the spectrum failed: \(error)")
                recordFault("storing the impedance spectrum of step \(spectrum.stepIndex) failed: \(error)")
            }
        }
        for event in output.events { hub.publish(.event(EventInfo(runID: runID, event)), runID: runID) }
    }

    /// Gives the engine an input from outside the samples and records it, so a replay takes the same course.
    func apply(_ kind: RunInput.Kind, reason: String, verdict: Verdict? = nil) -> EngineOutput {
        let input = engine.input(kind, reason: reason, verdict: verdict)
        recorder.record(input, now: ContinuousClock.now)
        return engine.apply(input)
    }

    /// Records an event that did not come from the engine.
    func record(_ event: RunEvent) {
        recorder.record(event, now: ContinuousClock.now)
        hub.publish(.event(EventInfo(runID: runID, event)), runID: runID)
    }

    func recordFault(_ message: String) {
        record(RunEvent(kind: .fault, time_s: engine.latestTime_s, message: message))
    }

    /// Hands the buffer to storage when it is due, or at once when the instrument paces the run.
    func flushIfDue() async {
        guard !recorder.isEmpty, instrumentPaces || recorder.isDue(now: ContinuousClock.now) else { return }
        await writer.submit(recorder.takeBatch())
    }

    func notePause(_ paused: Bool) {
        try? store.setState(paused ? .paused : .running, runID: runID)
        publishProgress(force: true)
        logger.notice("run \(runID) \(paused ? "paused at open circuit" : "resumed")")
    }

    /// Hands everything buffered to storage and waits until it is on disk (after operator commands, so their
    /// events are stored when the command returns).
    func flushAndWait() async {
        await writer.submit(recorder.takeBatch())
        await writer.drain()
    }
}
