import Control
import Domain
import Engine
import Instruments
import Logging
import Storage

extension RunLoop {
    // MARK: - Lost instruments

    /// Decides what an instrument failure means: with `on_instrument_loss: pause` and a lost port, the run waits
    /// at open circuit for the instrument (true: go on looping); otherwise the run ends as faulted (false).
    func continueAfterLoss(_ error: any Error) async -> Bool {
        if settings.onInstrumentLoss == .pause, Self.isLoss(error), session.canReconnect {
            if await pauseUntilReconnected(after: error) { return true }
            if let stop = stopRequest {
                await carryOut(engine.end(stop.state, reason: stop.reason))
                return false
            }
        }
        recordFault("instrument: \(error)")
        await carryOut(engine.end(.faulted, reason: FaultReason.instrumentFault(error)))
        return false
    }

    /// Whether `error` means the instrument's port went away (rather than a refusal or a garbled reply).
    static func isLoss(_ error: any Error) -> Bool {
        (error as? InstrumentError)?.code == .disconnected || error is InstrumentUnavailable
    }

    /// Pauses the run after its instrument went away and reopens the rig's ports every ``reconnectInterval`` until
    /// they answer; returns true once they do (the run stays paused until the operator resumes it) and false when
    /// a stop request ended the wait.
    func pauseUntilReconnected(after error: any Error) async -> Bool {
        let lost = ContinuousClock.now
        let latest_s = engine.latestTime_s
        _ = apply(
            .suspend, reason: "the instrument's port went away",
            verdict: Verdict(
                criterion: "instrument", action: .pause, reason: "the instrument's port went away: \(error)",
                time_s: latest_s))
        recordFault(
            "instrument lost: \(error); the run is paused at open circuit while cellrigd reopens the port every "
                + "\(reconnectInterval)")
        notePause(true)
        await flushAndWait()
        try? await galvanostat.openCircuit()  // the port is gone; an instrument still there obeys
        logger.warning("run \(runID): instrument lost; reopening the rig's ports every \(reconnectInterval)")
        while stopRequest == nil {
            try? await Task.sleep(for: reconnectInterval)
            guard stopRequest == nil else { return false }
            let identities: [InstrumentIdentity]
            do {
                identities = try await session.reopen(
                    samplingInterval_s: settings.samplingInterval_s, threeElectrode: engine.threeElectrode)
            } catch {
                continue
            }
            galvanostat = await session.galvanostat
            clock.instrumentReopened(latest_s: latest_s, lost: lost)
            try? store.appendInstruments(identities, runID: runID)
            let names = identities.map { "\($0.model) \($0.serialNumber) on \($0.port)" }.joined(separator: ", ")
            record(
                RunEvent(
                    kind: .operatorCommand, time_s: latest_s,
                    message: "instrument reconnected: \(names); the run stays paused at open circuit until resumed"))
            await flushAndWait()
            logger.notice("run \(runID): instrument reconnected (\(names)); waiting for resume")
            return true
        }
        return false
    }
}
