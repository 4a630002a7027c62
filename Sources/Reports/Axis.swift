import Foundation

/// An axis of a plot: its range, scale, ticks at 1-2-5 steps (or decades) and their labels.
struct Axis {
    enum Scale {
        case linear
        /// Base-10 logarithmic; the range must be positive.
        case logarithmic
    }

    var minimum: Double
    var maximum: Double
    var scale: Scale
    /// The title with its unit, `Voltage / mV`.
    var title: String
    /// Named ticks that replace the numeric ones (a categorical axis such as the timeline's rows).
    var namedTicks: [(value: Double, name: String)]?
    /// About how many major ticks a linear axis gets (fewer for short panels).
    var targetTicks: Double = 6

    /// A linear axis over `values`, padded by `padding` of the span and widened to the ticks at both ends.
    ///
    /// With `includeZero` the axis reaches zero, and data all on one side of zero start exactly there. With
    /// `exact` the ends are the data's own (a time axis from the first sample to the last).
    static func linear(
        covering values: [Double], title: String, includeZero: Bool = false, padding: Double = 0.04,
        exact: Bool = false, targetTicks: Double = 6
    ) -> Axis {
        let finite = values.filter(\.isFinite)
        var low = finite.min() ?? 0
        var high = finite.max() ?? 1
        if includeZero {
            low = min(low, 0)
            high = max(high, 0)
        }
        if high - low <= 0 {
            let pad = high == 0 ? 1 : abs(high) * 0.1
            low -= pad
            high += pad
        }
        var axis = Axis(minimum: low, maximum: high, scale: .linear, title: title, namedTicks: nil)
        axis.targetTicks = targetTicks
        if exact { return axis }
        let margin = (high - low) * padding
        let step = Self.niceStep(for: high - low + 2 * margin, targetTicks: targetTicks)
        let lowEnd = includeZero && low == 0 ? 0 : ((low - margin) / step - 1e-9).rounded(.down) * step
        let highEnd = includeZero && high == 0 ? 0 : ((high + margin) / step + 1e-9).rounded(.up) * step
        axis.minimum = lowEnd
        axis.maximum = highEnd
        axis.chosenStep = step
        return axis
    }

    /// A logarithmic axis over the positive `values`, widened to whole decades.
    static func logarithmic(covering values: [Double], title: String) -> Axis {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        let low = floor(log10(positive.min() ?? 1) + 1e-9)
        var high = ceil(log10(positive.max() ?? 10) - 1e-9)
        if high <= low { high = low + 1 }
        return Axis(minimum: pow(10, low), maximum: pow(10, high), scale: .logarithmic, title: title, namedTicks: nil)
    }

    /// A step of 1, 2 or 5 times a power of ten giving about five to eight ticks over `span`.
    static func niceStep(for span: Double, targetTicks: Double = 6) -> Double {
        guard span > 0, span.isFinite else { return 1 }
        let raw = span / targetTicks
        let magnitude = pow(10, floor(log10(raw)))
        let fraction = raw / magnitude
        let nice: Double = fraction < 1.5 ? 1 : fraction < 3.5 ? 2 : fraction < 7.5 ? 5 : 10
        return nice * magnitude
    }

    /// The tick step chosen when the axis was made; otherwise from the span.
    var chosenStep: Double?

    var step: Double { chosenStep ?? Self.niceStep(for: maximum - minimum, targetTicks: targetTicks) }

    /// Major tick positions.
    var ticks: [Double] {
        if let namedTicks { return namedTicks.map(\.value) }
        switch scale {
        case .linear:
            let step = step
            let first = (minimum / step - 1e-9).rounded(.up)
            let last = (maximum / step + 1e-9).rounded(.down)
            guard last >= first, last - first < 1000 else { return [] }
            return stride(from: first, through: last, by: 1).map { abs($0 * step) < step * 1e-9 ? 0 : $0 * step }
        case .logarithmic:
            let low = Int(log10(minimum).rounded())
            let high = Int(log10(maximum).rounded())
            let every = max(1, (high - low + 7) / 8)
            return stride(from: low, through: high, by: every).map { pow(10, Double($0)) }
        }
    }

    /// Minor ticks: halfway between linear ticks, or 2..9 within each decade.
    var minorTicks: [Double] {
        if namedTicks != nil { return [] }
        switch scale {
        case .linear:
            let step = step
            let halves = ticks.map { $0 + step / 2 }.filter { $0 < maximum }
            return halves
        case .logarithmic:
            let low = Int(log10(minimum).rounded())
            let high = Int(log10(maximum).rounded())
            guard high - low <= 8 else { return [] }
            return (low..<high).flatMap { decade in (2...9).map { Double($0) * pow(10, Double(decade)) } }
        }
    }

    /// Position of `value` along the axis, 0 at the minimum and 1 at the maximum.
    func fraction(_ value: Double) -> Double {
        switch scale {
        case .linear: (value - minimum) / (maximum - minimum)
        case .logarithmic: (log10(value) - log10(minimum)) / (log10(maximum) - log10(minimum))
        }
    }

    /// The label of a tick: as few digits as the step needs; decades as 10^n in plain form (0.01, 1, 1000, 1e+06).
    func label(_ value: Double) -> String {
        if let named = namedTicks?.first(where: { $0.value == value }) { return named.name }
        switch scale {
        case .linear:
            let decimals = max(0, -Int(floor(log10(step) + 1e-9)))
            if abs(value) >= 1e6 || (abs(value) < 1e-3 && value != 0) {
                return String(format: "%.\(min(decimals, 3))g", value)
            }
            return String(format: "%.\(decimals)f", value).replacingOccurrences(of: "-", with: "\u{2212}")
        case .logarithmic:
            let exponent = Int(log10(value).rounded())
            if (-3...5).contains(exponent) {
                return exponent < 0 ? String(format: "%.\(-exponent)f", value) : String(Int(value.rounded()))
            }
            return "10" + superscript(exponent)
        }
    }
}

/// A number in Unicode superscript digits, for exponents in labels (`cm⁻²`, `10⁶`).
func superscript(_ value: Int) -> String {
    let digits: [Character: String] = [
        "0": "\u{2070}", "1": "\u{00B9}", "2": "\u{00B2}", "3": "\u{00B3}", "4": "\u{2074}", "5": "\u{2075}",
        "6": "\u{2076}", "7": "\u{2077}", "8": "\u{2078}", "9": "\u{2079}", "-": "\u{207B}",
    ]
    return String(value).map { digits[$0] ?? String($0) }.joined()
}

/// How cell time is shown on an axis: seconds, minutes, hours or days, chosen by the span.
struct TimeUnit {
    var name: String
    var seconds: Double

    static func suited(to span_s: Double) -> TimeUnit {
        switch span_s {
        case ..<(3 * 60): TimeUnit(name: "s", seconds: 1)
        case ..<(3 * 3600): TimeUnit(name: "min", seconds: 60)
        case ..<(4 * 86400): TimeUnit(name: "h", seconds: 3600)
        default: TimeUnit(name: "d", seconds: 86400)
        }
    }
}
