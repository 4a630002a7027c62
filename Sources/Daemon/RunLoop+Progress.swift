import Control
import Domain
import Engine
import Synchronization

extension RunLoop {
    // MARK: - Progress

    /// Updates the live position (samples counted are samples on disk) and, at most every 200 ms, publishes it to
    /// live followers.
    func publishProgress(force: Bool) {
        var current = progress.current
        if let recorded = latestRecorded, engine.plan.steps.indices.contains(recorded.stepIndex) {
            let step = engine.plan.steps[recorded.stepIndex]
            current.step = step.index
            current.cycle = step.cycle
            current.kind = step.kind.rawValue
            current.current_density_mA_cm2 = step.currentDensity_mA_cm2
            current.current_A = recorded.sample.current_A
            current.voltage_V = recorded.sample.voltage_V
            current.voltage_we_re_V = recorded.sample.voltageWERE_V
            current.time_s = recorded.sample.time_s
            current.fraction_done = fractionDone(stepIndex: step.index)
        }
        current.samples = writer.storedSamples
        progress.update(current)
        let now = ContinuousClock.now
        guard force || now - lastPublish >= .milliseconds(200) else { return }
        lastPublish = now
        hub.publish(.progress(current), runID: runID)
    }
}

extension RunLoop {
    /// The share of the plan's expected cell time behind the run: the steps before the current one, and the current
    /// one's own time up to its expected duration. Time spent paused does not count, so a paused run stays where
    /// it stood instead of creeping to 100 %.
    func fractionDone(stepIndex: Int) -> Double {
        guard plannedDuration_s > 0, engine.plan.steps.indices.contains(stepIndex) else { return 0 }
        guard !engine.isFinished else { return min(1, plannedBefore_s[stepIndex] / plannedDuration_s) }
        let expected = engine.plan.steps[stepIndex].expectedDuration_s ?? 0
        let within = engine.currentStep?.step.index == stepIndex ? min(engine.currentStepElapsed_s ?? 0, expected) : 0
        return min(1, (plannedBefore_s[stepIndex] + within) / plannedDuration_s)
    }
}

/// A run's live position, shared between its loop (which writes it) and status requests (which read it without
/// waiting for the loop).
final class ProgressBoard: Sendable {
    private let state: Mutex<RunProgress>

    init(_ initial: RunProgress) {
        state = Mutex(initial)
    }

    var current: RunProgress { state.withLock { $0 } }

    func update(_ progress: RunProgress) {
        state.withLock { $0 = progress }
    }
}

extension RunProgress {
    /// The position of a run that is starting: its first step, nothing measured yet.
    init(starting runID: Int64, plan: StepPlan) {
        let first = plan.steps.first
        self.init(
            run_id: runID, step: 0, steps: plan.steps.count, cycle: first?.cycle ?? 0,
            kind: first?.kind.rawValue ?? "rest", current_density_mA_cm2: first?.currentDensity_mA_cm2 ?? 0,
            current_A: first?.current_A ?? 0, voltage_V: 0, voltage_we_re_V: nil, time_s: 0, samples: 0,
            fraction_done: 0)
    }
}
