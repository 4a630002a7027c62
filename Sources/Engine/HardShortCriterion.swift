import Domain

/// Hard short while plating: the apparent area resistance |V / I| x area falls far below the electrolyte's.
///
/// A fully formed short collapses the cell voltage towards I x R_short, far below what the electrolyte alone would
/// need. The reference is the electrolyte resistance if the protocol gives it (from EIS), else the lowest apparent
/// resistance seen at the end of earlier watched steps (or, in the first one, once its nucleation and relaxation
/// transients are over), which can only overestimate the electrolyte's. Two samples in a row below the threshold
/// stop the run; the CCD is the step's current density.
public struct HardShortCriterion: StopCriterion {
    /// Share of the reference resistance below which the cell counts as shorted, when no threshold is given.
    public static let defaultFraction = 0.2
    /// Step time after which the first watched step's apparent resistance becomes the reference: a nucleation
    /// overpotential that has not relaxed yet would set it several times too high, and the settled value would
    /// then look like a short.
    public static let firstReferenceAfter_s = 10.0

    public let name = "hard-short"
    public let detectsShort = true
    public let during: PlatingWatch
    public let electrolyteResistance_Ohm_cm2: Double?
    public let threshold_Ohm_cm2: Double?

    private var watching = false
    private var learnedReference_Ohm_cm2: Double?
    private var stepReference_Ohm_cm2: Double?
    private var latestApparent_Ohm_cm2: Double?
    private var consecutiveBelow = 0
    private var lastAboveTime_s: Double?

    public init(during: PlatingWatch, electrolyteResistance_Ohm_cm2: Double?, threshold_Ohm_cm2: Double?) {
        self.during = during
        self.electrolyteResistance_Ohm_cm2 = electrolyteResistance_Ohm_cm2
        self.threshold_Ohm_cm2 = threshold_Ohm_cm2
    }

    public mutating func stepStarted(_ context: StepContext) {
        if watching, let latest = latestApparent_Ohm_cm2 {
            learnedReference_Ohm_cm2 = min(learnedReference_Ohm_cm2 ?? latest, latest)
        }
        watching = during.watches(context.step)
        stepReference_Ohm_cm2 = nil
        latestApparent_Ohm_cm2 = nil
        consecutiveBelow = 0
        lastAboveTime_s = context.startTime_s
    }

    public mutating func stepResumed(_ context: StepContext) {
        consecutiveBelow = 0
        lastAboveTime_s = context.startTime_s
    }

    public mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard watching, abs(sample.current_A) > abs(context.step.current_A) * 0.5 else { return nil }
        let apparent = abs(sample.voltage_V / sample.current_A) * context.area_cm2
        latestApparent_Ohm_cm2 = apparent
        if stepReference_Ohm_cm2 == nil, context.sampleCount >= 3, context.elapsed_s >= Self.firstReferenceAfter_s {
            stepReference_Ohm_cm2 = apparent
        }
        let reference = electrolyteResistance_Ohm_cm2 ?? learnedReference_Ohm_cm2 ?? stepReference_Ohm_cm2
        guard let threshold = threshold_Ohm_cm2 ?? reference.map({ $0 * Self.defaultFraction }) else { return nil }
        guard apparent < threshold else {
            consecutiveBelow = 0
            lastAboveTime_s = sample.time_s
            return nil
        }
        consecutiveBelow += 1
        guard consecutiveBelow >= 2 else { return nil }
        let onset = lastAboveTime_s ?? context.startTime_s
        var evidence: [String: Double] = [
            "apparent_resistance_Ohm_cm2": apparent, "threshold_Ohm_cm2": threshold, "voltage_V": sample.voltage_V,
            "current_A": sample.current_A, "onset_time_s": onset,
        ]
        if let reference { evidence["reference_resistance_Ohm_cm2"] = reference }
        if let electrolyteResistance_Ohm_cm2 {
            evidence["electrolyte_resistance_Ohm_cm2"] = electrolyteResistance_Ohm_cm2
        }
        return Verdict(
            criterion: name, action: .stop,
            reason: "apparent resistance \(formatNumber(apparent, significantDigits: 3)) Ohm cm2 is below "
                + "\(formatNumber(threshold, significantDigits: 3)) Ohm cm2 during a \(context.step.kind.rawValue) "
                + "step at \(formatNumber(context.step.currentDensity_mA_cm2)) mA/cm2: the cell is shorted",
            time_s: sample.time_s, onsetTime_s: onset, currentDensity_mA_cm2: context.step.currentDensity_mA_cm2,
            evidence: evidence)
    }
}
