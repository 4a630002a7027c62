import Domain
import Foundation

/// Hard short while plating: once a watched step has settled, the apparent area resistance |V / I| x area (of the
/// median of the latest five samples) falls below a fifth of a trustworthy reference.
///
/// The reference, in order of trust:
/// 1. the electrolyte resistance the protocol gives (`electrolyte-resistance`);
/// 2. the one measured by an impedance step earlier in the run (the real part where the spectrum's phase is
///    smallest in its upper half of frequencies: the foot of the electrolyte's arc);
/// 3. the one the rig file implies (electrolyte conductivity, thickness; ``RunContext/electrolyteResistance_Ohm_cm2``);
/// 4. otherwise the lower of the settled apparent resistance of earlier watched steps at a similar current density
///    (within ``ShortDetectionTuning/referenceCurrentFactor``: kinetics lower it as the current rises) and the
///    present step's own settled level (``SettledLevel``), which follows a slow relaxation down but not a collapse.
///
/// Nothing is judged before the step has settled: the start of a step at low current can sit far above its settled
/// value for half an hour (nucleation), and just after a current reversal |V| can pass near zero. Two smoothed
/// samples in a row below the threshold stop the run; the CCD is the step's current density.
public struct HardShortCriterion: StopCriterion {
    public let name = "hard-short"
    public let detectsShort = true
    public let during: PlatingWatch
    /// The electrolyte's area resistance as the protocol gives it.
    public let electrolyteResistance_Ohm_cm2: Double?
    /// The threshold as the protocol gives it; default a fraction of the reference.
    public let threshold_Ohm_cm2: Double?
    /// The electrolyte's area resistance from the rig file, when known.
    public let rigElectrolyteResistance_Ohm_cm2: Double?
    public let tuning: ShortDetectionTuning

    /// The electrolyte's area resistance from the latest impedance spectrum of the run.
    public private(set) var measuredElectrolyteResistance_Ohm_cm2: Double?
    private var watching = false
    private var level: SettledLevel
    private var area_cm2 = 1.0
    private var stepDensity_mA_cm2 = 0.0
    /// Settled apparent resistance at the end of earlier watched steps, by their current density.
    private var settledEnds: [(density_mA_cm2: Double, resistance_Ohm_cm2: Double)] = []
    private var latestSettled_Ohm_cm2: Double?
    private var consecutiveBelow = 0
    private var warnedInStep = false
    private var previousTime_s: Double?
    private var interval_s = 1.0
    private var resolution = ReadingResolution(given_V: nil)

    public init(
        during: PlatingWatch, electrolyteResistance_Ohm_cm2: Double?, threshold_Ohm_cm2: Double?,
        rigElectrolyteResistance_Ohm_cm2: Double? = nil, tuning: ShortDetectionTuning = .standard
    ) {
        self.during = during
        self.electrolyteResistance_Ohm_cm2 = electrolyteResistance_Ohm_cm2
        self.threshold_Ohm_cm2 = threshold_Ohm_cm2
        self.rigElectrolyteResistance_Ohm_cm2 = rigElectrolyteResistance_Ohm_cm2.flatMap {
            $0.isFinite && $0 > 0 ? $0 : nil
        }
        self.tuning = tuning
        level = SettledLevel(tuning: tuning, keepsWander: false)
    }

    /// The electrolyte resistance known before any sample: given, measured in this run, or from the rig file.
    public var knownElectrolyteResistance_Ohm_cm2: Double? {
        electrolyteResistance_Ohm_cm2 ?? measuredElectrolyteResistance_Ohm_cm2 ?? rigElectrolyteResistance_Ohm_cm2
    }

    public mutating func stepStarted(_ context: StepContext) {
        if watching, let latestSettled_Ohm_cm2 {
            settledEnds.append((stepDensity_mA_cm2, latestSettled_Ohm_cm2))
        }
        watching = during.watches(context.step)
        area_cm2 = context.area_cm2
        stepDensity_mA_cm2 = context.step.currentDensity_mA_cm2
        latestSettled_Ohm_cm2 = nil
        consecutiveBelow = 0
        warnedInStep = false
        level.reset(stepStart_s: context.startTime_s)
        resolution.stepStarted()
    }

    public mutating func stepResumed(_ context: StepContext) {
        consecutiveBelow = 0
        level.reset(stepStart_s: context.startTime_s)
    }

    public mutating func impedanceMeasured(_ points: [ImpedancePoint]) {
        if let resistance = Self.electrolyteResistance_Ohm(points) {
            measuredElectrolyteResistance_Ohm_cm2 = resistance * area_cm2
        }
    }

    /// The electrolyte's resistance in a spectrum, ohms: the real part at the foot of the electrolyte's arc, the first
    /// point (from the highest frequency down) where the phase ratio -Z''/Z' stops falling and the interfaces' arc
    /// begins. A spectrum that starts beyond the electrolyte's arc gives its highest-frequency point. nil for a spectrum
    /// without two usable points.
    public static func electrolyteResistance_Ohm(_ points: [ImpedancePoint]) -> Double? {
        let usable = points.filter {
            $0.frequency_Hz > 0 && $0.frequency_Hz.isFinite && $0.real_Ohm.isFinite && $0.imaginary_Ohm.isFinite
                && $0.real_Ohm > 0
        }.sorted { $0.frequency_Hz > $1.frequency_Hz }
        guard usable.count >= 2 else { return nil }
        let ratios = usable.map { max(0, -$0.imaginary_Ohm) / $0.real_Ohm }
        for index in 0..<(ratios.count - 1) where ratios[index] <= ratios[index + 1] {
            return usable[index].real_Ohm
        }
        return usable.last?.real_Ohm
    }

    /// Earlier steps' settled apparent resistance at a current density near this step's, the lowest.
    private var learnedReference_Ohm_cm2: Double? {
        let factor = tuning.referenceCurrentFactor
        return settledEnds.filter {
            $0.density_mA_cm2 <= stepDensity_mA_cm2 * factor && $0.density_mA_cm2 * factor >= stepDensity_mA_cm2
        }.map(\.resistance_Ohm_cm2).min()
    }

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard watching else { return nil }
        guard sample.voltage_V.isFinite, sample.current_A.isFinite, sample.time_s.isFinite else {
            return cannotJudge(sample, context: context)
        }
        let current = abs(sample.current_A)
        guard current > abs(context.step.current_A) * 0.5, current > 0 else { return nil }
        if let previousTime_s, sample.time_s > previousTime_s { interval_s = sample.time_s - previousTime_s }
        previousTime_s = sample.time_s
        resolution.add(sample.voltage_V)
        level.add(
            time_s: sample.time_s, magnitude: abs(sample.voltage_V), interval_s: interval_s,
            resolution_V: resolution.value_V)
        guard level.isSettled, let smoothed = level.smoothed_V, let settled = level.reference_V else { return nil }
        // A fall of a few reading steps is no collapse, whatever the ratio (a level of 2 mV read to 1 mV).
        guard settled - smoothed >= tuning.resolutionSteps * resolution.value_V else {
            consecutiveBelow = 0
            return nil
        }
        let toResistance = context.area_cm2 / current
        let apparent = smoothed * toResistance
        latestSettled_Ohm_cm2 = settled * toResistance
        let stepReference = settled * toResistance
        let reference =
            knownElectrolyteResistance_Ohm_cm2 ?? min(learnedReference_Ohm_cm2 ?? stepReference, stepReference)
        let threshold = threshold_Ohm_cm2 ?? reference * tuning.hardShortFraction
        guard apparent < threshold else {
            consecutiveBelow = 0
            return nil
        }
        consecutiveBelow += 1
        guard consecutiveBelow >= tuning.hardShortConfirmations else { return nil }
        let onset = level.atReferenceTime_s ?? context.startTime_s
        var evidence: [String: Double] = [
            "apparent_resistance_Ohm_cm2": apparent, "threshold_Ohm_cm2": threshold, "voltage_V": sample.voltage_V,
            "current_A": sample.current_A, "onset_time_s": onset, "reference_resistance_Ohm_cm2": reference,
            "settled_resistance_Ohm_cm2": stepReference,
        ]
        if let known = knownElectrolyteResistance_Ohm_cm2 { evidence["electrolyte_resistance_Ohm_cm2"] = known }
        return Verdict(
            criterion: name, action: .stop,
            reason: "apparent resistance \(formatNumber(apparent, significantDigits: 3)) Ohm cm2 is below "
                + "\(formatNumber(threshold, significantDigits: 3)) Ohm cm2 (\(referenceSource) "
                + "\(formatNumber(reference, significantDigits: 3)) Ohm cm2) during a settled "
                + "\(context.step.kind.rawValue) step at \(formatNumber(context.step.currentDensity_mA_cm2)) mA/cm2: "
                + "the cell is shorted",
            time_s: sample.time_s, onsetTime_s: onset, currentDensity_mA_cm2: context.step.currentDensity_mA_cm2,
            evidence: evidence)
    }

    private var referenceSource: String {
        if electrolyteResistance_Ohm_cm2 != nil { return "a fifth of the given electrolyte resistance" }
        if measuredElectrolyteResistance_Ohm_cm2 != nil {
            return "a fifth of the electrolyte resistance measured by EIS"
        }
        if rigElectrolyteResistance_Ohm_cm2 != nil { return "a fifth of the rig file's electrolyte resistance" }
        return "a fifth of the settled apparent resistance"
    }

    private mutating func cannotJudge(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard !warnedInStep else { return nil }
        warnedInStep = true
        let time_s = sample.time_s.isFinite ? sample.time_s : context.startTime_s + context.elapsed_s
        return Verdict(
            criterion: name, action: .warn,
            reason: "a sample with a non-finite time, current or voltage was not judged (step \(context.step.index))",
            time_s: time_s.isFinite ? time_s : context.startTime_s,
            currentDensity_mA_cm2: context.step.currentDensity_mA_cm2)
    }
}
