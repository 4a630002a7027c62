import Foundation

/// The resolution of the readings a criterion sees: given by the driver for its range, or inferred from the data.
///
/// An instrument on a fixed range reports multiples of one step (0.1 mV on many ranges). The smallest non-zero change
/// between consecutive readings of a step is that step once the readings have moved at all; before they have, the
/// finest decimal place the readings use bounds it from above (readings of `0.004` V are at most 1 mV apart).
/// Unquantised data give a change far below the noise, which then sets the scale. The estimate starts afresh each
/// step (an instrument may change range with the current) but keeps the previous step's until the new one has moved.
struct ReadingResolution: Sendable {
    /// The driver's resolution for the present range, when known.
    let given_V: Double?
    private var smallestChange_V: Double?
    private var finestDecimal_V: Double?
    private var carried_V: Double?
    private var previous_V: Double?
    /// Non-zero changes seen this step: one jump (a constant level that steps once) says nothing of the resolution.
    private var changes = 0

    init(given_V: Double?) {
        self.given_V = given_V.flatMap { $0.isFinite && $0 > 0 ? $0 : nil }
    }

    mutating func stepStarted() {
        carried_V = changes >= 3 ? smallestChange_V ?? carried_V : carried_V
        smallestChange_V = nil
        changes = 0
        finestDecimal_V = nil
        previous_V = nil
    }

    mutating func add(_ reading_V: Double) {
        guard reading_V.isFinite else { return }
        if let previous_V {
            let change = abs(reading_V - previous_V)
            // Changes below a nanovolt are the representation's, not the instrument's.
            if change > 1e-9 {
                smallestChange_V = min(smallestChange_V ?? change, change)
                changes += 1
            }
        }
        previous_V = reading_V
        if changes < 3, reading_V != 0 {
            let decimal = Self.finestDecimal(reading_V)
            finestDecimal_V = min(finestDecimal_V ?? decimal, decimal)
        }
    }

    /// The resolution to assume now, volts (0 when nothing is known). An inferred one needs three changes in the
    /// step and is at most ``largestInferred_V``: galvanostats read cell voltages to a millivolt or finer. Readings that
    /// never moved (`0.010` V throughout) bound nothing: their finest decimal counts once they have changed.
    var value_V: Double {
        let changed = changes >= 3 ? smallestChange_V : nil
        let decimal = changes >= 1 ? finestDecimal_V : nil
        let inferred = min(changed ?? carried_V ?? decimal ?? 0, Self.largestInferred_V)
        return max(given_V ?? 0, inferred)
    }

    static let largestInferred_V = 1e-3

    /// The largest power of ten (1 uV to 0.1 V) of which `value` is a whole multiple, to a part in 1e6; 0 if none.
    static func finestDecimal(_ value: Double) -> Double {
        var step = 0.1
        while step >= 1e-6 {
            let multiple = value / step
            if abs(multiple - multiple.rounded()) <= 1e-6 * max(1, abs(multiple)) { return step }
            step /= 10
        }
        return 0
    }
}
