import Domain

/// Watches a run for readings the criteria cannot judge: samples the instrument flagged as an overload, or whose
/// current or voltage was not a finite number.
///
/// Such a sample is stored but never judged, so the criteria are blind while they last. The watch reports the first
/// one of each step as a `sample-quality` warning (later ones in the same step are counted in storage, not
/// announced), and pauses the run at open circuit when ``streakLimit`` of them come in a row: a run whose
/// criteria cannot see a short must not keep the current on.
struct SampleQualityWatch: Sendable {
    /// The name the watch's verdicts carry.
    static let criterion = "sample-quality"
    /// Consecutive unjudged samples that pause the run.
    static let streakLimit = 5

    private var streak = 0
    private var warnedInStep = false

    /// A new step began: its first flagged sample is announced again.
    mutating func stepStarted() {
        warnedInStep = false
    }

    /// The run resumed after a pause: the streak starts afresh.
    mutating func resumed() {
        streak = 0
    }

    /// The verdict for `sample`, if any; `seq` is its place in the run.
    mutating func judge(_ sample: InstrumentSample, seq: Int, runIsPaused: Bool) -> Verdict? {
        let flags = sample.flags.intersection([.overload, .nonFinite])
        guard !flags.isEmpty else {
            streak = 0
            return nil
        }
        streak += 1
        let what = flags.names.joined(separator: " and ")
        if streak == Self.streakLimit, !runIsPaused {
            return Verdict(
                criterion: Self.criterion, action: .pause,
                reason: "\(Self.streakLimit) samples in a row up to sample \(seq) were \(what): the criteria cannot "
                    + "judge the cell, so it is put at open circuit; check the instrument and its leads, then resume",
                time_s: sample.time_s, evidence: ["streak": Double(streak), "seq": Double(seq)])
        }
        guard !warnedInStep else { return nil }
        warnedInStep = true
        return Verdict(
            criterion: Self.criterion, action: .warn,
            reason: "sample \(seq) is \(what); it is stored but kept out of charge integration and the criteria "
                + "(further such samples in this step are flagged in storage without a warning)",
            time_s: sample.time_s, evidence: ["seq": Double(seq), "flags": Double(flags.rawValue)])
    }
}
