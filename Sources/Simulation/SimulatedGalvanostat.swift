public import Domain
public import Instruments

/// An in-process galvanostat that drives a ``CellModel``: the rig's instrument when it has no hardware.
///
/// Cell time advances by the sampling interval with every ``nextSample()``; at a speed factor the call waits so
/// that cell time runs that many times faster than wall time, at `.unlimited` it returns at once. Like a real
/// instrument it enforces its compliance voltage: the reading never exceeds the hardware limit.
public actor SimulatedGalvanostat: Galvanostat, ImpedanceAnalyzer {
    public let name: String
    private var model: any CellModel
    private let speed: SimulationSpeed
    private var interval_s = 1.0
    private var limits: HardwareLimits?
    private var current_A = 0.0
    private var time_s = 0.0
    private var wallStart: ContinuousClock.Instant?
    /// Samples handed out so far; tests compare it with what storage holds.
    public private(set) var producedSampleCount = 0

    public init(name: String = "sim", model: any CellModel, speed: SimulationSpeed) {
        self.name = name
        self.model = model
        self.speed = speed
    }

    public var groundTruth: [GroundTruthEvent] { model.groundTruth }

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
    }

    public func openCircuit() async throws {
        current_A = 0
    }

    /// Measures a spectrum on the model at zero DC current; cell time moves on by the spectrum's duration, and the
    /// next sample comes one sampling interval after its last point.
    public func measureImpedance(_ settings: ImpedanceSettings) async throws -> [ImpedancePoint] {
        current_A = 0
        let points = model.measureSpectrum(settings, startTime_s: time_s)
        time_s = points.last?.time_s ?? time_s
        return points
    }

    public func nextSample() async throws -> InstrumentSample {
        if case .factor(let factor) = speed {
            let clock = ContinuousClock()
            let start = wallStart ?? clock.now
            wallStart = start
            let due = start.advanced(by: .seconds((time_s + interval_s) / factor))
            try await clock.sleep(until: due, tolerance: nil)
        } else if producedSampleCount % 4096 == 0 {
            await Task.yield()
        }
        time_s += interval_s
        var sample = model.advance(by: interval_s, current_A: current_A)
        producedSampleCount += 1
        let compliance = limits?.voltage_V ?? .infinity
        sample.time_s = time_s
        sample.voltage_V = min(max(sample.voltage_V, -compliance), compliance)
        return sample
    }
}
