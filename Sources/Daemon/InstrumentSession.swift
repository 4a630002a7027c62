import Domain
import Instruments
import Simulation

/// The instruments of one run: opened when the run starts, prepared for its protocol, reopened after a loss, and
/// closed when the run ends, so an idle rig holds no port.
///
/// A simulated rig gets an in-process ``SimulatedGalvanostat``; a serial rig gets its ports opened afresh
/// (``InstrumentFactory``), so an instrument that was unplugged and plugged back in is found again.
actor InstrumentSession {
    let rig: RigDescription
    /// The run's galvanostat (for a serial rig, the galvanostat and pressure sensor seen as one).
    private(set) var galvanostat: any Galvanostat
    /// The in-process simulator, on a simulated rig (its ground truth and sample count are the tests' reference).
    let simulated: SimulatedGalvanostat?
    private var serial: SerialRigInstruments?
    /// Readings the instruments replaced by a reopening could not use.
    private var discardedByEarlierInstruments = 0
    private var closed = false

    private init(rig: RigDescription, galvanostat: any Galvanostat, simulated: SimulatedGalvanostat?) {
        self.rig = rig
        self.galvanostat = galvanostat
        self.simulated = simulated
        self.serial = galvanostat as? SerialRigInstruments
    }

    /// Opens the rig's instruments for a run of `testProtocol` on `cell`. Throws ``InstrumentUnavailable`` when a
    /// port is absent or busy.
    static func open(rig: RigDescription, cell: CellDescription, testProtocol: TestProtocol) async throws
        -> InstrumentSession
    {
        switch rig.galvanostat {
        case .simulated(let configuration):
            let model = try SimulatedCells.model(
                configuration, cell: cell, threeElectrode: testProtocol.threeElectrode, rigFile: "rig '\(rig.id)'")
            let simulated = SimulatedGalvanostat(
                name: rig.id, model: model, speed: configuration.speed, heater: configuration.heater)
            return InstrumentSession(rig: rig, galvanostat: simulated, simulated: simulated)
        case .methodScript, .keithley2400:
            return InstrumentSession(rig: rig, galvanostat: try await InstrumentFactory.open(rig), simulated: nil)
        }
    }

    /// Whether the instruments can be reopened after their port went away (serial rigs).
    nonisolated var canReconnect: Bool { simulated == nil }

    /// Identifies every instrument and prepares the galvanostat for the protocol (sampling interval, the rig's
    /// hardware limits, which voltages to measure); returns the identities to record, galvanostat first.
    func prepare(samplingInterval_s: Double, threeElectrode: Bool) async throws -> [InstrumentIdentity] {
        let identities =
            if let serial { try await serial.identifyAll() } else { [try await galvanostat.identify()] }
        try await galvanostat.configure(samplingInterval_s: samplingInterval_s, limits: rig.limits)
        try await galvanostat.measureBothVoltages(threeElectrode)
        return identities
    }

    /// Refuses impedance settings the identified instrument cannot measure (after ``prepare``), so a protocol fails
    /// at its start rather than at its impedance step.
    func checkImpedance(_ steps: [ImpedanceSettings]) async throws {
        guard let analyzer = galvanostat as? any ImpedanceAnalyzer else { return }
        for settings in steps { try await analyzer.checkImpedance(settings) }
    }

    /// Closes the lost ports and opens them again, prepared as before and at open circuit; returns the new
    /// identities. Throws when they do not answer yet (the caller tries again later).
    func reopen(samplingInterval_s: Double, threeElectrode: Bool) async throws -> [InstrumentIdentity] {
        guard canReconnect else {
            throw InstrumentUnavailable(description: "rig '\(rig.id)': only serial instruments can be reopened")
        }
        if let lost = serial {
            discardedByEarlierInstruments += await lost.discardedReadingCount
            await lost.close()
            serial = nil
        }
        let reopened = try await InstrumentFactory.open(rig)
        serial = reopened
        galvanostat = reopened
        do {
            let identities = try await prepare(samplingInterval_s: samplingInterval_s, threeElectrode: threeElectrode)
            try await reopened.openCircuit()
            return identities
        } catch {
            discardedByEarlierInstruments += await reopened.discardedReadingCount
            await reopened.close()
            serial = nil
            throw error
        }
    }

    /// Readings the run's instruments received and could not use, over every reopening.
    var discardedReadingCount: Int {
        get async { discardedByEarlierInstruments + (await serial?.discardedReadingCount ?? 0) }
    }

    /// Closes every port (a simulated rig has none). Called once the run has ended on the instrument.
    func close() async {
        guard !closed else { return }
        closed = true
        await serial?.close()
    }
}
