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
/// answers in about a millisecond; the pressure of a clamped cell changes over minutes). A reading that fails
/// leaves the samples until the next attempt with the previous reading flagged ``SampleFlags/pressureStale`` (or
/// none, flagged ``SampleFlags/pressureMissing``); a reading beyond the sensor's capacity or not a number is kept
/// as read and flagged ``SampleFlags/pressureImplausible``, and one at the run's start refuses the run. A sensor
/// whose port went away is lost like the galvanostat. The temperature controller, when the rig has one, is read the
/// same way into every sample's `temperature_C` (`SerialRigInstruments+Temperature.swift`).
actor SerialRigInstruments: Galvanostat, ImpedanceAnalyzer, Potentiostat, TemperatureSetting {
    /// The force sensor and how its readings become pressures.
    struct PressureSensor: Sendable {
        let sensor: any ForceSensor
        let port: InstrumentFactory.OpenedPort
        /// The rig file's entry: calibration, reading interval, capacity.
        let configuration: PressureSensorConfiguration
    }

    /// The latest force reading as a pressure, with whether the force was plausible.
    private struct PressureReading {
        var time_s: Double
        var pressure_MPa: Double
        var plausible: Bool
    }

    private let galvanostat: any Galvanostat
    private let galvanostatPort: InstrumentFactory.OpenedPort
    private let pressure: PressureSensor?
    private var lastPressureReading: PressureReading?
    /// The cell time of the latest attempt to read the sensor, and whether it failed.
    private var lastPressureAttempt: (time_s: Double, failed: Bool)?
    private var closed = false
    /// The temperature controller and its latest reading and attempt.
    let temperature: TemperatureControl?
    var lastTemperatureReading: (time_s: Double, temperature_C: Double)?
    var lastTemperatureAttempt: (time_s: Double, failed: Bool)?

    init(
        galvanostat: any Galvanostat, galvanostatPort: InstrumentFactory.OpenedPort, pressure: PressureSensor?,
        temperature: TemperatureControl? = nil
    ) {
        self.galvanostat = galvanostat
        self.galvanostatPort = galvanostatPort
        self.pressure = pressure
        self.temperature = temperature
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
        if let identity = try await temperatureIdentity() { identities.append(identity) }
        return identities
    }

    /// Configures the galvanostat, then reads the force once: a sensor that cannot be read, or reads an
    /// implausible force (a wrong byte order or value type in the rig file), refuses the run at its start.
    func configure(samplingInterval_s: Double, limits: HardwareLimits) async throws {
        lastPressureReading = nil
        lastPressureAttempt = nil
        try await galvanostat.configure(samplingInterval_s: samplingInterval_s, limits: limits)
        try await checkTemperatureController()
        guard let pressure else { return }
        let force_N: Double
        do {
            force_N = try await pressure.sensor.readForce_N()
        } catch {
            throw PressureSensorFailure(underlying: error)
        }
        guard pressure.configuration.isPlausible(force_N: force_N) else {
            let bound =
                pressure.configuration.capacity_N.map {
                    "its capacity of \(formatNumber($0)) N (rig file key capacity)"
                }
                ?? "\(formatNumber(PressureSensorConfiguration.plausibleForceWithoutCapacity_N)) N"
            throw PressureSensorFailure(
                underlying: InstrumentError(
                    .rejected, instrument: pressure.port.recordedName,
                    "reads \(force_N) N, beyond \(bound): check the rig file's byte_order, value_type and "
                        + "newtons_per_count against the transmitter's manual"))
        }
    }

    func applyCurrent(_ current_A: Double) async throws {
        try await galvanostat.applyCurrent(current_A)
    }

    /// The galvanostat's potential program; refused when it cannot set a potential.
    func applyPotential(_ program: PotentialProgram) async throws {
        guard let potentiostat = galvanostat as? any Potentiostat else {
            throw InstrumentError(
                .rejected, instrument: "galvanostat", "this instrument's driver cannot set a potential")
        }
        try await potentiostat.applyPotential(program)
    }

    func measureBothVoltages(_ enabled: Bool) async throws {
        try await galvanostat.measureBothVoltages(enabled)
    }

    func openCircuit() async throws {
        try await galvanostat.openCircuit()
    }

    func nextSample() async throws -> InstrumentSample {
        try await withReadings(try await galvanostat.nextSample())
    }

    /// The galvanostat's batch, each sample with its pressure as ``nextSample()`` gives it.
    func nextSamples() async throws -> [InstrumentSample] {
        var samples: [InstrumentSample] = []
        for sample in try await galvanostat.nextSamples() { samples.append(try await withReadings(sample)) }
        return samples
    }

    var discardedReadingCount: Int { get async { await galvanostat.discardedReadingCount } }

    var voltageResolution_V: Double? { get async { await galvanostat.voltageResolution_V } }

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

    /// The galvanostat's check of a spectrum's settings (refused when it has no impedance capability).
    func checkImpedance(_ settings: ImpedanceSettings) async throws {
        guard let analyzer = galvanostat as? any ImpedanceAnalyzer else {
            throw InstrumentError(
                .rejected, instrument: galvanostatPort.recordedName, "this galvanostat cannot measure impedance")
        }
        try await analyzer.checkImpedance(settings)
    }

    /// Ends the run on the galvanostat (MethodSCRIPT: aborts its script and switches the cell off, measuring nothing).
    /// The heater follows the rig's `at_run_end` after the cell is off, even when switching the cell off failed.
    func finishRun() async throws {
        do {
            try await galvanostat.finishRun()
        } catch {
            try? await finishTemperatureControl()
            throw error
        }
        try await finishTemperatureControl()
    }

    /// The galvanostat's queued samples, each given its pressure as ``nextSample()`` gives it. A sample is never
    /// lost to the pressure sensor: once its port is gone, the remaining samples keep the latest reading, flagged
    /// stale.
    func takePendingSamples() async -> [InstrumentSample] {
        var samples = await galvanostat.takePendingSamples()
        for index in samples.indices {
            do {
                samples[index] = try await withReadings(samples[index])
            } catch {
                lastPressureAttempt = (samples[index].time_s, true)
                lastTemperatureAttempt = (samples[index].time_s, true)
                samples[index] = withLatestTemperature(withLatestPressure(samples[index]))
            }
        }
        return samples
    }

    /// `sample` with the stack pressure and the temperature, each read when due.
    private func withReadings(_ sample: InstrumentSample) async throws -> InstrumentSample {
        try await withTemperature(try await withPressure(sample))
    }

    /// `sample` with the stack pressure, reading the sensor when the reading interval has passed (in cell time)
    /// since the last attempt. Throws only when the sensor's port went away.
    private func withPressure(_ sample: InstrumentSample) async throws -> InstrumentSample {
        guard let pressure else { return sample }
        let interval = pressure.configuration.readingInterval_s
        let due =
            lastPressureAttempt.map { sample.time_s - $0.time_s >= interval || sample.time_s < $0.time_s } ?? true
        if due {
            do {
                let force_N = try await pressure.sensor.readForce_N()
                lastPressureReading = PressureReading(
                    time_s: sample.time_s,
                    pressure_MPa: pressure.configuration.calibration.pressure_MPa(force_N: force_N),
                    plausible: pressure.configuration.isPlausible(force_N: force_N))
                lastPressureAttempt = (sample.time_s, false)
            } catch let error as InstrumentError where error.code == .disconnected {
                throw InstrumentUnavailable(description: "pressure sensor: \(error)")
            } catch {
                lastPressureAttempt = (sample.time_s, true)
            }
        }
        return withLatestPressure(sample)
    }

    /// `sample` with the latest reading and its flags: stale when the latest attempt failed, missing without one.
    private func withLatestPressure(_ sample: InstrumentSample) -> InstrumentSample {
        var sample = sample
        guard pressure != nil else { return sample }
        guard let reading = lastPressureReading else {
            sample.flags.insert(.pressureMissing)
            return sample
        }
        sample.pressure_MPa = reading.pressure_MPa
        if lastPressureAttempt?.failed == true { sample.flags.insert(.pressureStale) }
        if !reading.plausible { sample.flags.insert(.pressureImplausible) }
        return sample
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
        await temperature?.port.transport.close()
    }
}
