import Domain
import Foundation
import InstrumentDrivers
import Instruments
import SerialTransport
import Transport

/// The instruments of one run on a serial rig, seen by the run loop as one galvanostat.
///
/// Commands go to the galvanostat. Every sample it returns gets the stack pressure: the force sensor is read
/// when at least `readingInterval_s` of cell time has passed since its last reading (and for the first
/// sample), and samples in between carry that latest reading. Reading on cell time, inline, keeps the
/// result exact and repeatable at any simulation speed, and costs one short exchange per interval (a Mark-10
/// answers in about a millisecond; the pressure of a clamped cell changes over minutes). A failed reading is an
/// instrument fault like a failed sample.
actor SerialRigInstruments: Galvanostat, ImpedanceAnalyzer {
    /// The force sensor and how its readings become pressures.
    struct PressureSensor: Sendable {
        let sensor: any ForceSensor
        let port: InstrumentFactory.OpenedPort
        let calibration: StackPressureCalibration
        let readingInterval_s: Double
    }

    private let galvanostat: any Galvanostat
    private let galvanostatPort: InstrumentFactory.OpenedPort
    private let pressure: PressureSensor?
    private var lastPressureReading: (time_s: Double, pressure_MPa: Double)?
    private var closed = false

    init(galvanostat: any Galvanostat, galvanostatPort: InstrumentFactory.OpenedPort, pressure: PressureSensor?) {
        self.galvanostat = galvanostat
        self.galvanostatPort = galvanostatPort
        self.pressure = pressure
    }

    /// The galvanostat's identity (the run records ``identifyAll()``).
    func identify() async throws -> InstrumentIdentity {
        var identity = try await galvanostat.identify()
        identity.port = galvanostatPort.recordedName
        return identity
    }

    /// Every instrument of the rig, galvanostat first, with the port as the rig file names it.
    func identifyAll() async throws -> [InstrumentIdentity] {
        var identities = [try await identify()]
        if let pressure {
            var identity: InstrumentIdentity
            do {
                identity = try await pressure.sensor.identify()
            } catch {
                throw PressureSensorFailure(underlying: error)
            }
            identity.role = "pressure"
            identity.port = pressure.port.recordedName
            identities.append(identity)
        }
        return identities
    }

    func configure(samplingInterval_s: Double, limits: HardwareLimits) async throws {
        lastPressureReading = nil
        try await galvanostat.configure(samplingInterval_s: samplingInterval_s, limits: limits)
    }

    func applyCurrent(_ current_A: Double) async throws {
        try await galvanostat.applyCurrent(current_A)
    }

    func measureBothVoltages(_ enabled: Bool) async throws {
        try await galvanostat.measureBothVoltages(enabled)
    }

    func openCircuit() async throws {
        try await galvanostat.openCircuit()
    }

    func nextSample() async throws -> InstrumentSample {
        try await withPressure(try await galvanostat.nextSample())
    }

    /// Whether the galvanostat can measure impedance spectra.
    nonisolated var measuresImpedance: Bool { galvanostat is any ImpedanceAnalyzer }

    /// The galvanostat's spectrum; refused when it has no impedance capability.
    func measureImpedance(_ settings: ImpedanceSettings) async throws -> [ImpedancePoint] {
        guard let analyzer = galvanostat as? any ImpedanceAnalyzer else {
            throw InstrumentError(
                .rejected, instrument: galvanostatPort.recordedName, "this galvanostat cannot measure impedance")
        }
        return try await analyzer.measureImpedance(settings)
    }

    /// Ends the run on the galvanostat (MethodSCRIPT: aborts its script and switches the cell off, measuring nothing).
    func finishRun() async throws {
        try await galvanostat.finishRun()
    }

    /// The galvanostat's queued samples, each given its pressure as ``nextSample()`` gives it. A sample is never
    /// lost to the pressure sensor: when a reading fails here, the remaining samples keep the latest reading
    /// taken within the reading interval, or none.
    func takePendingSamples() async -> [InstrumentSample] {
        var samples = await galvanostat.takePendingSamples()
        var sensorFailed = false
        for index in samples.indices {
            if !sensorFailed {
                do {
                    samples[index] = try await withPressure(samples[index])
                    continue
                } catch {
                    sensorFailed = true
                }
            }
            samples[index].pressure_MPa = recentPressure_MPa(at: samples[index].time_s)
        }
        return samples
    }

    /// `sample` with the stack pressure: the latest reading while it is recent enough in cell time, else a new one.
    private func withPressure(_ sample: InstrumentSample) async throws -> InstrumentSample {
        var sample = sample
        guard let pressure else { return sample }
        if let recent = recentPressure_MPa(at: sample.time_s) {
            sample.pressure_MPa = recent
            return sample
        }
        let force_N: Double
        do {
            force_N = try await pressure.sensor.readForce_N()
        } catch {
            throw InstrumentUnavailable(description: "pressure sensor: \(error)")
        }
        let reading = pressure.calibration.pressure_MPa(force_N: force_N)
        lastPressureReading = (sample.time_s, reading)
        sample.pressure_MPa = reading
        return sample
    }

    /// The latest reading, if it is less than the reading interval older (in cell time) than `time_s`.
    private func recentPressure_MPa(at time_s: Double) -> Double? {
        guard let pressure, let last = lastPressureReading, time_s - last.time_s < pressure.readingInterval_s,
            time_s >= last.time_s
        else { return nil }
        return last.pressure_MPa
    }

    /// Packages the galvanostat's driver read and could not keep (MethodSCRIPT: undecodable package lines, and
    /// those of a script another host left running); with the stored samples they account for everything the
    /// instrument sent.
    var discardedSampleCount: Int {
        get async { await (galvanostat as? MethodScriptGalvanostat)?.discardedPackageCount ?? 0 }
    }

    /// Whether ``close()`` has run.
    var isClosed: Bool { closed }

    /// Stops a running MethodSCRIPT measurement (its `on_finished:` keeps the cell off) and closes every port;
    /// called after the run, whose end already switched the cell off and left the instrument idle
    /// (``finishRun()``), so normally there is nothing left to stop.
    func close() async {
        guard !closed else { return }
        closed = true
        try? await (galvanostat as? MethodScriptGalvanostat)?.abortScript()
        await galvanostatPort.transport.close()
        await pressure?.port.transport.close()
    }
}
