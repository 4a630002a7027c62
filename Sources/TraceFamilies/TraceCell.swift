public import Domain

/// How a short arrives in a trace family's cell. A short is an electronic path beside the electrolyte, so it only
/// ever lowers |V|; its shapes follow the ways shorts are described in the literature and seen on real rigs.
public enum ShortShape: String, Sendable, Hashable, CaseIterable {
    /// |V| collapses within one sample, then wanders erratically at the lower level.
    case abrupt
    /// |V| falls over minutes (by 80 to 100 %), mid-step.
    case slow
    /// Repeated drops of a few mV or a few tens of percent, each recovering only partly.
    case soft
    /// Downward fluctuations that grow over tens of seconds to minutes (a contact making and breaking).
    case noisy
}

/// What a benchmark chooses about a trace cell; the family draws everything else (kinetics, transients, drift,
/// noise, glitches, the short's details) from the seed.
public struct TraceCellOptions: Sendable, Hashable {
    public var seed: UInt64
    public var area_cm2: Double
    /// The instrument's reading resolution, volts: readings are quantised to it (0 leaves them unquantised).
    public var voltageResolution_V: Double
    /// Current density from which the cell can short; nil for a cell that never shorts.
    public var criticalCurrentDensity_mA_cm2: Double?
    /// Areal charge passed in one step at or above the critical current density before the short begins.
    public var onsetCharge_mAh_cm2: Double
    public var shortShape: ShortShape
    /// Only steps plating the working electrode can short (a plating-step test); otherwise every current-carrying
    /// step can (a symmetric cell, where each half-cycle plates one electrode).
    public var shortsOnlyWhilePlatingWE: Bool
    /// The cell has a reference electrode: samples carry a WE-RE voltage.
    public var threeElectrode: Bool

    public init(
        seed: UInt64, area_cm2: Double, voltageResolution_V: Double, criticalCurrentDensity_mA_cm2: Double?,
        onsetCharge_mAh_cm2: Double, shortShape: ShortShape, shortsOnlyWhilePlatingWE: Bool = false,
        threeElectrode: Bool = false
    ) {
        self.seed = seed
        self.area_cm2 = area_cm2
        self.voltageResolution_V = voltageResolution_V
        self.criticalCurrentDensity_mA_cm2 = criticalCurrentDensity_mA_cm2
        self.onsetCharge_mAh_cm2 = onsetCharge_mAh_cm2
        self.shortShape = shortShape
        self.shortsOnlyWhilePlatingWE = shortsOnlyWhilePlatingWE
        self.threeElectrode = threeElectrode
    }
}

/// A synthetic cell driven like an instrument: a current in, one reading out per interval, in IUPAC signs (negative
/// current plates the working electrode, `voltage_V` is WE minus CE). It knows when its short really began.
public protocol TraceCell: Sendable {
    var options: TraceCellOptions { get }
    /// Cell time at which the short began, once it has.
    var shortOnset_s: Double? { get }
    /// The electrolyte's area resistance, Ohm cm2, as an impedance spectrum or the rig file would give it.
    var electrolyteResistance_Ohm_cm2: Double { get }
    /// Advances by `interval_s` with `current_A` applied and returns the reading at the end of the interval.
    mutating func advance(by interval_s: Double, current_A: Double) -> InstrumentSample
}

/// The independent families of synthetic cell traces, for scoring stop criteria on cells they were not tuned on.
public enum TraceFamily: String, Sendable, Hashable, CaseIterable {
    /// Butler-Volmer interfaces with asymmetric transfer coefficients and a limiting current, stretched-exponential
    /// nucleation, diffusion-like relaxation, 1/f and telegraph noise, a short as a parallel conductance.
    case kinetic
    /// A statistical description: power-law polarisation, power-law and rise-then-fall transients, coloured and
    /// heavy-tailed noise, stuck and scaled readings, a short as a multiplicative factor.
    case empirical

    /// A cell of this family.
    public func makeCell(_ options: TraceCellOptions) -> any TraceCell {
        switch self {
        case .kinetic: KineticTraceCell(options: options)
        case .empirical: EmpiricalTraceCell(options: options)
        }
    }
}

/// Rounds to the instrument's resolution (nothing when it is 0).
func quantised(_ value: Double, resolution: Double) -> Double {
    resolution > 0 ? (value / resolution).rounded() * resolution : value
}

/// When a trace cell's short begins: once the charge passed in one step at or above the critical current density
/// (plating the working electrode, where only that can short) reaches the onset charge. Bookkeeping every family
/// shares; how the short then changes |V| is each family's own.
struct ShortSchedule: Sendable {
    let options: TraceCellOptions
    /// Cell time at which the short began, once it has.
    private(set) var onset_s: Double?
    private var shortableCharge_mAh_cm2 = 0.0

    init(options: TraceCellOptions) {
        self.options = options
    }

    /// A new step: the charge towards the onset starts from zero.
    mutating func stepStarted() {
        shortableCharge_mAh_cm2 = 0
    }

    /// Counts the interval ending at `time_s`; returns the onset time (within the interval) when the short begins in
    /// it, nil otherwise (and once it has begun).
    mutating func beginsDuring(interval_s: Double, endingAt time_s: Double, density: Double, current_A: Double)
        -> Double?
    {
        guard onset_s == nil, let critical = options.criticalCurrentDensity_mA_cm2,
            density >= critical * (1 - 1e-9)
        else { return nil }
        if options.shortsOnlyWhilePlatingWE, current_A >= 0 { return nil }
        let before = shortableCharge_mAh_cm2
        shortableCharge_mAh_cm2 += density * interval_s / 3600
        guard shortableCharge_mAh_cm2 >= options.onsetCharge_mAh_cm2 else { return nil }
        let needed = (options.onsetCharge_mAh_cm2 - before) / (density / 3600)
        let onset = time_s - interval_s + min(max(needed, 0), interval_s)
        onset_s = onset
        return onset
    }
}
