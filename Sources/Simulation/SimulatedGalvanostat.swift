public import Domain
public import Instruments

/// An in-process galvanostat that drives a ``CellModel``: the rig's instrument when it has no hardware.
///
/// Cell time advances by the sampling interval with every sample; at a speed factor a call waits so that cell time
/// runs that many times faster than wall time, at `.unlimited` it returns at once. Batches (``nextSamples()``) are
/// measured ahead of the run loop, so the loop can take back their tail (``rewind(toSampleAt:)``) when a command
/// comes mid-batch: the cell then sees the command right after the sample that caused it. Like a real
/// instrument it enforces its compliance voltage: the reading never exceeds the hardware limit.
///
/// It is a ``Potentiostat`` too: under a potential program each sample's current is the one that brings the cell
/// model's controlled voltage to the programmed potential (the cell's own kinetics decide it), within the rig's
/// current limit.
public actor SimulatedGalvanostat: Galvanostat, ImpedanceAnalyzer, Potentiostat, TemperatureSetting {
    public let name: String
    private var model: any CellModel
    private let speed: SimulationSpeed
    private var interval_s = 1.0
    private var limits: HardwareLimits?
    private var current_A = 0.0
    /// The potential program running, and the cell time it began at; nil under a set current.
    private var program: (program: PotentialProgram, start_s: Double)?
    private var time_s = 0.0
    private var wallStart: ContinuousClock.Instant?
    /// Samples handed out so far; tests compare it with what storage holds.
    public private(set) var producedSampleCount = 0

    /// The rig's heater, if it has one (`heater:` in a simulated rig file).
    let heaterConfiguration: SimulatedHeater?
    /// How the cell's temperature follows a `set_temperature` setpoint; nil without a heater.
    private var heater: Heater?
    /// The temperature of the latest reading, where a heater's first setpoint starts from (before any reading, from
    /// the temperature the model holds).
    private var lastTemperature_C: Double?

    public init(name: String = "sim", model: any CellModel, speed: SimulationSpeed, heater: SimulatedHeater? = nil) {
        self.name = name
        self.model = model
        self.speed = speed
        self.heaterConfiguration = heater
        self.heater = heater.map { Heater(configuration: $0) }
    }

    /// Starts the heater towards `setpoint_C`, from where the cell's temperature is now.
    func startHeating(to setpoint_C: Double) {
        guard var heating = heater else { return }
        heating.temperature_C = heating.temperature_C ?? lastTemperature_C ?? model.heldTemperature_C
        heating.setpoint_C = setpoint_C
        heating.settled = false
        heater = heating
    }

    public var groundTruth: [GroundTruthEvent] { model.groundTruth }

    /// The current the simulated instrument drives now (0 at open circuit).
    public var appliedCurrent_A: Double { current_A }

    public func identify() async throws -> InstrumentIdentity {
        InstrumentIdentity(
            role: "galvanostat", model: "cellrig simulated galvanostat (\(type(of: model)))", firmware: "cellrig",
            serialNumber: name, port: "in-process")
    }

    public func configure(samplingInterval_s: Double, limits: HardwareLimits) async throws {
        guard samplingInterval_s > 0 else {
            throw InstrumentError(.rejected, instrument: name, "sampling interval must be positive")
        }
        interval_s = samplingInterval_s
        self.limits = limits
        wallStart = nil
    }

    public func applyCurrent(_ current_A: Double) async throws {
        guard let limits else { throw InstrumentError(.notConfigured, instrument: name, "configure before driving") }
        guard abs(current_A) <= limits.current_A * (1 + 1e-9) else {
            throw InstrumentError(
                .rejected, instrument: name,
                "current \(formatNumber(current_A)) A exceeds the rig's limit of \(formatNumber(limits.current_A)) A")
        }
        self.current_A = current_A
        program = nil
        lastBatch = nil
    }

    /// Runs `program` from the present cell time; the current follows from the cell model at every sample.
    public func applyPotential(_ program: PotentialProgram) async throws {
        guard let limits else { throw InstrumentError(.notConfigured, instrument: name, "configure before driving") }
        if let outside = program.corners_V.first(where: { abs($0) > limits.voltage_V * (1 + 1e-9) }) {
            throw InstrumentError(
                .rejected, instrument: name,
                "potential \(formatNumber(outside)) V exceeds the rig's limit of \(formatNumber(limits.voltage_V)) V")
        }
        self.program = (program, time_s)
        lastBatch = nil
    }

    /// The potential program running now, if any.
    public var appliedProgram: PotentialProgram? { program?.program }

    public func openCircuit() async throws {
        current_A = 0
        program = nil
        lastBatch = nil
    }

    /// Measures a spectrum on the model at zero DC current; cell time moves on by the spectrum's duration, and the
    /// next sample comes one sampling interval after its last point.
    public func measureImpedance(_ settings: ImpedanceSettings) async throws -> [ImpedancePoint] {
        lastBatch = nil
        return measureSpectrum(settings)
    }

    /// A spectrum at open circuit: cell time moves on by its duration, and a heater with it (the cell's temperature
    /// is taken as steady over one spectrum, and follows the heater again at its end).
    private func measureSpectrum(_ settings: ImpedanceSettings) -> [ImpedancePoint] {
        current_A = 0
        program = nil
        let points = model.measureSpectrum(settings, startTime_s: time_s)
        let end_s = points.last?.time_s ?? time_s
        if end_s > time_s, let temperature_C = heater?.advance(by: end_s - time_s) {
            model.setTemperatureSetpoint(temperature_C)
        }
        time_s = end_s
        return points
    }

    public func nextSample() async throws -> InstrumentSample {
        try await waitUntilDue()
        lastBatch = nil
        return produceSample()
    }

    /// Samples measured since the oldest one the run loop has not taken, up to ``batchLimit``: at a speed factor,
    /// those whose time has come (at least one); at unlimited speed, ``batchLimit`` at once. The loop may take back
    /// the tail of the batch with ``rewind(toSampleAt:)`` when its engine commands the instrument mid-batch.
    public func nextSamples() async throws -> [InstrumentSample] {
        try await waitUntilDue()
        let checkpoint = Checkpoint(
            model: model, heater: heater, time_s: time_s, producedSampleCount: producedSampleCount,
            current_A: current_A,
            program: program)
        var batch: [InstrumentSample] = []
        batch.reserveCapacity(Self.batchLimit)
        batch.append(produceSample())
        while batch.count < Self.batchLimit, isDue(time_s + interval_s) {
            batch.append(produceSample())
        }
        lastBatch = (checkpoint, batch.map(\.time_s))
        return batch
    }

    /// Takes back the samples of the latest batch after the one at `time_s`: the cell's state, the clock and the
    /// count return to that sample, as if the next command had come right after it. False when `time_s` is not a
    /// sample of the latest batch.
    public func rewind(toSampleAt time_s: Double) async -> Bool {
        guard let (checkpoint, times) = lastBatch, let index = times.firstIndex(of: time_s) else { return false }
        lastBatch = nil
        guard index < times.count - 1 else { return true }
        model = checkpoint.model
        heater = checkpoint.heater
        self.time_s = checkpoint.time_s
        producedSampleCount = checkpoint.producedSampleCount
        let current = current_A
        let commanded = program
        current_A = checkpoint.current_A
        program = checkpoint.program
        for _ in 0...index { _ = produceSample() }
        current_A = current
        program = commanded
        // A program commanded after the batch starts at the sample it came after, as the engine timed it.
        if let commanded, commanded.start_s > self.time_s { program = (commanded.program, self.time_s) }
        return true
    }

    /// What the run loop had the instrument do, for ``fastForward(through:sampleCount:)``.
    public enum Output: Sendable, Hashable {
        case current(Double)
        case openCircuit
        case spectrum(ImpedanceSettings)
        case potential(PotentialProgram)
        /// A heater setpoint (a `set_temperature` step): the simulated clamp heats or cools towards it.
        case temperature(Double)
    }

    /// Brings a fresh simulator to where an interrupted run's instrument stood: replays the outputs the run had it
    /// apply, each after the number of samples it came after, then measures up to `sampleCount` samples. The cell
    /// model is deterministic, so its state (and its clock) is exactly that after the run's last stored sample: the
    /// simulated cell does not forget what happened to it when the daemon restarts. Call after `configure`.
    public func fastForward(through outputs: [(samplesBefore: Int, output: Output)], sampleCount: Int) {
        var produced = 0
        for (samplesBefore, output) in outputs {
            while produced < min(samplesBefore, sampleCount) {
                _ = produceSample()
                produced += 1
            }
            switch output {
            case .current(let current):
                current_A = current
                program = nil
            case .openCircuit:
                current_A = 0
                program = nil
            case .potential(let potential):
                program = (potential, time_s)
            case .spectrum(let settings):
                _ = measureSpectrum(settings)
            case .temperature(let setpoint_C):
                startHeating(to: setpoint_C)
            }
        }
        while produced < sampleCount {
            _ = produceSample()
            produced += 1
        }
        lastBatch = nil
        wallStart = nil
    }

    /// Most samples one ``nextSamples()`` hands over.
    public static let batchLimit = 64

    /// The simulator's state before a batch, to measure part of it again after a rewind.
    private struct Checkpoint {
        var model: any CellModel
        var heater: Heater?
        var time_s: Double
        var producedSampleCount: Int
        var current_A: Double
        var program: (program: PotentialProgram, start_s: Double)?
    }

    private var lastBatch: (checkpoint: Checkpoint, times: [Double])?

    /// Waits, at a speed factor, until the next sample's time has come in wall time.
    private func waitUntilDue() async throws {
        if case .factor(let factor) = speed {
            let clock = ContinuousClock()
            // Cell time so far counts as already paced (a simulator brought forward to a resumed run's time).
            let start = wallStart ?? clock.now.advanced(by: .seconds(-time_s / factor))
            wallStart = start
            let due = start.advanced(by: .seconds((time_s + interval_s) / factor))
            try await clock.sleep(until: due, tolerance: nil)
        } else if producedSampleCount % 4096 == 0 {
            await Task.yield()
        }
    }

    /// Whether a sample at cell time `sampleTime_s` is due now (always, at unlimited speed).
    private func isDue(_ sampleTime_s: Double) -> Bool {
        guard case .factor(let factor) = speed, let wallStart else { return true }
        return ContinuousClock.now >= wallStart.advanced(by: .seconds(sampleTime_s / factor))
    }

    /// Advances the model by one sampling interval under the present current and reads it, clipped to compliance.
    private func produceSample() -> InstrumentSample {
        time_s += interval_s
        if let temperature_C = heater?.advance(by: interval_s) { model.setTemperatureSetpoint(temperature_C) }
        var sample: InstrumentSample
        if let (program, start_s) = program {
            let compliance = min(program.currentCompliance_A ?? .infinity, limits?.current_A ?? .infinity)
            sample = model.advance(
                by: interval_s, holding: program.potential(atElapsed: time_s - start_s), versus: program.versus,
                compliance_A: compliance.isFinite ? compliance : 1, guess_A: current_A)
            current_A = sample.current_A
        } else {
            sample = model.advance(by: interval_s, current_A: current_A)
        }
        producedSampleCount += 1
        let compliance = limits?.voltage_V ?? .infinity
        sample.time_s = time_s
        sample.voltage_V = min(max(sample.voltage_V, -compliance), compliance)
        lastTemperature_C = sample.temperature_C ?? lastTemperature_C
        return sample
    }
}
