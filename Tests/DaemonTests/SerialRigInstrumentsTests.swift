import Domain
import Instruments
import Testing
import Transport

@testable import Daemon

/// A galvanostat that hands over prepared batches of samples, one second apart.
private actor BatchGalvanostat: Galvanostat {
    private var batches: [[InstrumentSample]]
    let discarded: Int

    init(batches: [[InstrumentSample]], discarded: Int = 0) {
        self.batches = batches
        self.discarded = discarded
    }

    func identify() async throws -> InstrumentIdentity {
        InstrumentIdentity(role: "galvanostat", model: "batch", firmware: "", serialNumber: "", port: "")
    }
    func configure(samplingInterval_s: Double, limits: HardwareLimits) async throws {}
    func applyCurrent(_ current_A: Double) async throws {}
    func openCircuit() async throws {}
    func nextSample() async throws -> InstrumentSample { try await nextSamples()[0] }
    func nextSamples() async throws -> [InstrumentSample] {
        guard !batches.isEmpty else { throw InstrumentError(.timeout, instrument: "batch", "no more samples") }
        return batches.removeFirst()
    }
    var discardedReadingCount: Int { discarded }
    var voltageResolution_V: Double? { 1e-5 }
}

/// A force sensor that answers from a script: a force in newtons, or an error.
private actor ScriptedForceSensor: ForceSensor {
    private var answers: [Result<Double, InstrumentError>]
    private(set) var readings = 0

    init(_ answers: [Result<Double, InstrumentError>]) {
        self.answers = answers
    }

    func identify() async throws -> InstrumentIdentity {
        InstrumentIdentity(role: "pressure", model: "scripted", firmware: "", serialNumber: "", port: "")
    }
    func readForce_N() async throws -> Double {
        readings += 1
        return try answers.removeFirst().get()
    }
    func zero() async throws {}
}

private let port = InstrumentFactory.OpenedPort(transport: ScriptedTransport([]), spec: "scripted", path: "scripted")

/// 100 N on 1 cm2 is 1 MPa.
private func instruments(
    _ galvanostat: any Galvanostat, sensor: any ForceSensor, capacity_N: Double? = 500
) -> SerialRigInstruments {
    let configuration = PressureSensorConfiguration(
        driver: .mark10(Mark10Configuration(line: SerialLineConfiguration(port: "scripted", baudRate: 115_200))),
        calibration: StackPressureCalibration(pelletArea_cm2: 1), readingInterval_s: 0, capacity_N: capacity_N)
    return SerialRigInstruments(
        galvanostat: galvanostat, galvanostatPort: port,
        pressure: .init(sensor: sensor, port: port, configuration: configuration))
}

private func samples(_ times: ClosedRange<Int>) -> [InstrumentSample] {
    times.map { InstrumentSample(time_s: Double($0), current_A: 1e-4, voltage_V: 0.1) }
}

@Suite("Serial rig instruments: batches, counts and pressure flags")
struct SerialRigInstrumentsTests {
    @Test("a failed reading leaves the previous one flagged stale (none: missing); an absurd one is kept, flagged")
    func pressureFlags() async throws {
        let timeout = InstrumentError(.timeout, instrument: "gauge", "no reply")
        let sensor = ScriptedForceSensor([
            .failure(timeout), .success(100), .failure(timeout), .success(1e9), .success(.nan), .success(120),
        ])
        let rig = instruments(
            BatchGalvanostat(batches: [samples(1...3), samples(4...6)], discarded: 2), sensor: sensor)
        let batch = try await rig.nextSamples() + rig.nextSamples()
        #expect(batch.map(\.time_s) == [1, 2, 3, 4, 5, 6], "the batches, in order, none lost")
        #expect(batch[0].pressure_MPa == nil && batch[0].flags == [.pressureMissing])
        #expect(batch[1].pressure_MPa == 1 && batch[1].flags == [])
        #expect(batch[2].pressure_MPa == 1 && batch[2].flags == [.pressureStale])
        #expect(batch[3].pressure_MPa == 1e7 && batch[3].flags == [.pressureImplausible], "kept as read")
        #expect(batch[4].pressure_MPa?.isNaN == true && batch[4].flags == [.pressureImplausible])
        #expect(batch[5].pressure_MPa == 1.2 && batch[5].flags == [])
        #expect(await sensor.readings == 6)
        #expect(await rig.discardedReadingCount == 2)
        #expect(await rig.voltageResolution_V == 1e-5)
    }

    @Test("a pressure sensor whose port is gone is lost like the galvanostat")
    func disconnectedSensorIsALoss() async throws {
        let sensor = ScriptedForceSensor([.failure(InstrumentError(.disconnected, instrument: "gauge", "EIO"))])
        let rig = instruments(BatchGalvanostat(batches: [samples(1...1)]), sensor: sensor)
        await #expect(throws: InstrumentUnavailable.self) { try await rig.nextSamples() }
    }

    @Test("configure reads the force once: beyond the capacity refuses the run, naming byte_order")
    func implausibleFirstReadingRefusesTheRun() async throws {
        let rig = instruments(BatchGalvanostat(batches: []), sensor: ScriptedForceSensor([.success(600)]))
        do {
            try await rig.configure(samplingInterval_s: 1, limits: HardwareLimits(voltage_V: 5, current_A: 0.02))
            Issue.record("600 N on a 500 N sensor must refuse the run")
        } catch let failure as PressureSensorFailure {
            #expect("\(failure)".contains("capacity of 500 N") && "\(failure)".contains("byte_order"), "\(failure)")
        }
        let plausible = instruments(BatchGalvanostat(batches: []), sensor: ScriptedForceSensor([.success(540)]))
        try await plausible.configure(samplingInterval_s: 1, limits: HardwareLimits(voltage_V: 5, current_A: 0.02))
    }
}
