/// Builds SVG text with compact numbers (one decimal of a pixel is plenty on screen and paper).
struct SVGWriter {
    var text = ""

    mutating func raw(_ fragment: String) {
        text += fragment
        text += "\n"
    }

    mutating func polyline(_ points: [(Double, Double)], color: String, width: Double, dash: String?) {
        guard points.count > 1 else {
            if let point = points.first {
                raw(
                    "<circle cx=\"\(Self.number(point.0))\" cy=\"\(Self.number(point.1))\" r=\"1\" fill=\"\(color)\"/>")
            }
            return
        }
        var fragment = "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(Self.number(width))\" "
        fragment += "stroke-linejoin=\"round\""
        if let dash { fragment += " stroke-dasharray=\"\(dash)\"" }
        fragment += " points=\""
        fragment.reserveCapacity(fragment.utf8.count + points.count * 12)
        var previous: (Int, Int)?
        for point in points {
            let rounded = (Int((point.0 * 10).rounded()), Int((point.1 * 10).rounded()))
            if let previous, previous == rounded { continue }
            if previous != nil { fragment += " " }
            fragment += Self.tenths(rounded.0) + "," + Self.tenths(rounded.1)
            previous = rounded
        }
        fragment += "\"/>"
        raw(fragment)
    }

    mutating func markers(
        _ points: [(Double, Double)], color: String, radius: Double, filled: Bool, shape: PlotPanel.MarkerShape
    ) {
        let fill = filled ? color : "white"
        var fragment = "<g stroke=\"\(color)\" fill=\"\(fill)\" stroke-width=\"1.1\">"
        for (x, y) in points where x.isFinite && y.isFinite {
            switch shape {
            case .circle:
                fragment += "<circle cx=\"\(Self.number(x))\" cy=\"\(Self.number(y))\" r=\"\(Self.number(radius))\"/>"
            case .square:
                fragment +=
                    "<rect x=\"\(Self.number(x - radius))\" y=\"\(Self.number(y - radius))\" "
                    + "width=\"\(Self.number(2 * radius))\" height=\"\(Self.number(2 * radius))\"/>"
            case .triangle:
                fragment +=
                    "<path d=\"M\(Self.number(x)),\(Self.number(y - radius * 1.2))l\(Self.number(radius)),"
                    + "\(Self.number(radius * 2))h\(Self.number(-2 * radius))z\"/>"
            case .diamond:
                fragment +=
                    "<path d=\"M\(Self.number(x)),\(Self.number(y - radius * 1.3))l\(Self.number(radius)),"
                    + "\(Self.number(radius * 1.3))l\(Self.number(-radius)),\(Self.number(radius * 1.3))"
                    + "l\(Self.number(-radius)),\(Self.number(-radius * 1.3))z\"/>"
            }
        }
        fragment += "</g>"
        raw(fragment)
    }

    static func segment(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> String {
        "<line x1=\"\(number(x1))\" y1=\"\(number(y1))\" x2=\"\(number(x2))\" y2=\"\(number(y2))\"/>"
    }

    /// A pixel coordinate with at most one decimal.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return tenths(Int((value * 10).rounded()))
    }

    private static func tenths(_ value: Int) -> String {
        let whole = value / 10
        let decimal = abs(value % 10)
        if decimal == 0 { return String(whole) }
        return (value < 0 && whole == 0 ? "-" : "") + String(whole) + "." + String(decimal)
    }

    /// Text safe inside XML/HTML elements and attributes.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
