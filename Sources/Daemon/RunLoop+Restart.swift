import Control
import Domain
import Engine
import Instruments
import ProtocolFiles

extension RunLoop {
    /// Continues a run a restart interrupted: announces the gap (its event is already stored, with the run's
    /// reopening), reads the cell at open circuit (a cell that does not answer is not driven), then continues the
    /// step (or runs it again, with `on_restart: restart-step`), the criteria starting their models afresh as after
    /// a pause. The first samples under current are compared with the step's level before the gap
    /// (``judgeAfterRestart(_:)``). A run paused when it was interrupted stays paused.
    func continueAfterRestart(_ plan: RestartPlan) async {
        let now = ContinuousClock.now
        if session.simulated == nil {
            // A real instrument's clock started again; the cell lived through the gap.
            let gap = Duration.seconds(plan.gap_s ?? settings.samplingInterval_s)
            clock.instrumentReopened(latest_s: engine.latestTime_s, lost: now - gap)
        }
        hub.publish(.event(EventInfo(runID: runID, plan.event)), runID: runID)
        let who = plan.byHand ? "resumed by the operator" : "the daemon restarted"
        await restoreTemperatureSetpoint()
        guard !engine.isFinished else { return }
        guard !engine.isPaused else {
            notePause(true)
            return
        }
        _ = apply(
            .suspend, reason: "reading the cell at open circuit after a restart",
            verdict: Verdict(
                criterion: "restart", action: .pause, reason: "reading the cell at open circuit after a restart",
                time_s: engine.latestTime_s))
        if let refusal = await openCircuitCheck() {
            await carryOut(engine.end(.interrupted, reason: refusal))
            return
        }
        switch plan.policy {
        case .restartStep: await carryOut(apply(.restartStep, reason: who))
        case .resume, .abort: await carryOut(apply(.resume, reason: who))
        }
        if plan.policy == .resume, let level = plan.levelBeforeGap_V, level > 0 {
            shortCheck = (level, 0, Self.restartCheckSamples)
        }
    }

    /// Writes the setpoint of the run's latest `set_temperature` step again: the previous daemon's end switched the
    /// heater off when the rig says `at_run_end: output-off`, and a controller power-cycled meanwhile lost it. A
    /// refusal faults the run at open circuit, as a refused `set_temperature` step does.
    private func restoreTemperatureSetpoint() async {
        guard let current = engine.currentStep?.step.index,
            let setting = engine.plan.steps.last(where: { $0.index <= current && $0.temperatureSetpoint_C != nil }),
            let setpoint_C = setting.temperatureSetpoint_C
        else { return }
        var output = EngineOutput()
        output.commands = [.setTemperature(setpoint_C)]
        output.events = [
            RunEvent(
                kind: .operatorCommand, time_s: engine.latestTime_s,
                message:
                    "the temperature setpoint of step \(setting.index) (\(formatNumber(setpoint_C)) C) is written again "
                    + "after the restart", stepIndex: current)
        ]
        await carryOut(output)
    }

    /// The event that says a run continues after a restart, with how long it was away and what its step does now;
    /// stored with the run's reopening (``RunStore/reopenRun(_:restartEvent:)``).
    static func restartEvent(
        engine: RunEngine, policy: RestartPolicy, gap_s: Double?, byHand: Bool
    ) -> RunEvent {
        let who = byHand ? "resumed by the operator" : "the daemon restarted"
        let gap = gap_s.map { "\(formatDuration($0)) of wall time" } ?? "an unknown time"
        let step = engine.currentStep.map { "step \($0.step.index)" } ?? "the run"
        return RunEvent(
            kind: .operatorCommand, time_s: engine.latestTime_s,
            message: "\(who) after the run was interrupted for \(gap); \(step) continues "
                + (policy == .restartStep ? "from its beginning" : "with the charge it still owes"),
            stepIndex: engine.currentStep?.step.index)
    }

    /// Samples under current judged against the level before the gap: the first one, before the criteria see it
    /// (the ohmic part of the polarisation is there at once; a shorted cell reads near zero).
    static var restartCheckSamples: Int { 1 }

    /// Opens the circuit and reads one batch; returns why the run must not go on, or nil when the cell answered.
    private func openCircuitCheck() async -> String? {
        do {
            try await galvanostat.openCircuit()
            let batch = try await galvanostat.nextSamples()
            batchArrival = ContinuousClock.now
            for sample in batch { record(engine.ingest(clock.place(sample, now: batchArrival))) }
            if batch.allSatisfy({ !$0.isJudged }) {
                let flags = Set(batch.flatMap(\.flags.names)).sorted().joined(separator: ", ")
                return "not resumed: the cell's open-circuit reading after the restart was unusable (\(flags)); "
                    + "is it still connected?"
            }
            return nil
        } catch {
            return "not resumed: the instrument did not give an open-circuit reading after the restart: \(error)"
        }
    }

    /// After a restart, the first judged samples under the step's current: a cell whose |voltage| stays below a tenth
    /// of its level before the gap shorted meanwhile, and is not driven further. Returns the refusal, or nil.
    func judgeAfterRestart(_ sample: InstrumentSample) -> String? {
        guard var check = shortCheck, sample.isJudged, !engine.isPaused, let context = engine.currentStep,
            context.step.current_A != 0
        else { return nil }
        let voltage = engine.threeElectrode ? (sample.voltageWERE_V ?? sample.voltage_V) : sample.voltage_V
        check.highest_V = max(check.highest_V, abs(voltage))
        check.remaining -= 1
        guard check.remaining == 0 else {
            shortCheck = check
            return nil
        }
        shortCheck = nil
        guard check.highest_V < 0.1 * check.levelBeforeGap_V else { return nil }
        return "not resumed: the cell looks shorted after the restart (|V| at most "
            + "\(formatNumber(check.highest_V * 1e3, significantDigits: 3)) mV under the step's current, "
            + "\(formatNumber(check.levelBeforeGap_V * 1e3, significantDigits: 3)) mV before the gap)"
    }
}
