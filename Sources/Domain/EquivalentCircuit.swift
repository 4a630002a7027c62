/// The kinds of element an equivalent circuit may hold, with the letters that name them in circuit notation.
public enum CircuitElementKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A resistor: Z = R.
    case resistor = "R"
    /// An ideal capacitor: Z = 1 / (i omega C).
    case capacitor = "C"
    /// An inductor (cables, current collectors): Z = i omega L.
    case inductor = "L"
    /// A constant-phase element: Z = 1 / (Q (i omega)^n), 0 < n <= 1.
    case constantPhase = "CPE"
    /// A semi-infinite Warburg diffusion element: Z = sigma (1 - i) / sqrt(omega).
    case warburg = "W"

    /// The element's parameters: name suffix (empty for a one-parameter element) and unit.
    public var parameters: [(suffix: String, unit: String)] {
        switch self {
        case .resistor: [("", "Ohm")]
        case .capacitor: [("", "F")]
        case .inductor: [("", "H")]
        case .constantPhase: [("_Q", "F s^(n-1)"), ("_n", "1")]
        case .warburg: [("", "Ohm s^-1/2")]
        }
    }

    /// Prefixes tried longest first, so `CPE1` is a constant-phase element and not a capacitor named `PE1`.
    static let prefixesLongestFirst: [CircuitElementKind] = allCases.sorted { $0.rawValue.count > $1.rawValue.count }
}

/// One named element of an equivalent circuit (`R0`, `CPE1`, `W`).
public struct CircuitElement: Sendable, Hashable {
    public var kind: CircuitElementKind
    /// The name as written: the kind's letters followed by a number or `_label` (or nothing).
    public var name: String

    public init(kind: CircuitElementKind, name: String) {
        self.kind = kind
        self.name = name
    }

    /// The names of this element's parameters (`R1`; `CPE1_Q`, `CPE1_n`), in the order of ``CircuitElementKind/parameters``.
    public var parameterNames: [String] { kind.parameters.map { name + $0.suffix } }
}

/// Why a circuit string cannot be read: the character position (from 1) and what was wrong.
public struct CircuitSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public var text: String
    /// Character position in `text`, from 1.
    public var position: Int
    public var problem: String

    public var description: String { "circuit '\(text)', character \(position): \(problem)" }

    /// What a valid circuit looks like, for error messages.
    public static let allowed =
        "elements R, C, L, CPE, W followed by a number or _label (R0, CPE1, R_ct), joined in series by '-' and "
        + "in parallel by p(a,b), e.g. R0-p(R1,CPE1)-p(R2,CPE2)"
}

/// An equivalent circuit in the field's usual string notation: `R0-p(R1,CPE1)-p(R2,CPE2)`.
///
/// Elements in series are joined by `-`; `p(a,b,...)` puts its arguments in parallel, and each argument may be a
/// series chain itself. Element names are unique. The text form (``description``) is canonical: no spaces.
/// By convention the elements are written from high to low frequency (electrolyte first, then the interfaces).
public struct EquivalentCircuit: Sendable, Hashable, CustomStringConvertible {
    /// The circuit's structure.
    public indirect enum Node: Sendable, Hashable {
        case element(CircuitElement)
        case series([Node])
        case parallel([Node])
    }

    public let root: Node
    /// Every element, in the order written.
    public let elements: [CircuitElement]

    /// Parses circuit notation; throws with the position of the first problem.
    public init(parsing text: String) throws(CircuitSyntaxError) {
        var parser = CircuitParser(text: text)
        root = try parser.parseCircuit()
        elements = root.elementsInOrder
        var seen: Set<String> = []
        for element in elements where !seen.insert(element.name).inserted {
            throw CircuitSyntaxError(
                text: text, position: 1,
                problem: "the element name '\(element.name)' is used twice; names must be unique")
        }
    }

    /// The names of all parameters, in the order of the elements.
    public var parameterNames: [String] { elements.flatMap(\.parameterNames) }

    public var description: String { root.notation(topLevel: true) }
}

extension EquivalentCircuit: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension EquivalentCircuit.Node {
    var elementsInOrder: [CircuitElement] {
        switch self {
        case .element(let element): [element]
        case .series(let children), .parallel(let children): children.flatMap(\.elementsInOrder)
        }
    }

    func notation(topLevel: Bool) -> String {
        switch self {
        case .element(let element): element.name
        case .series(let children): children.map { $0.notation(topLevel: false) }.joined(separator: "-")
        case .parallel(let children): "p(" + children.map { $0.notation(topLevel: false) }.joined(separator: ",") + ")"
        }
    }
}

/// Recursive-descent reader of circuit notation: `series := term ('-' term)*`, `term := NAME | 'p(' series (','
/// series)+ ')'`.
private struct CircuitParser {
    let text: String
    let characters: [Character]
    var position = 0

    init(text: String) {
        self.text = text
        characters = Array(text)
    }

    mutating func parseCircuit() throws(CircuitSyntaxError) -> EquivalentCircuit.Node {
        skipSpaces()
        guard position < characters.count else { throw failure("the circuit is empty") }
        let node = try parseSeries()
        skipSpaces()
        if position < characters.count {
            throw failure("unexpected '\(characters[position])'; expected '-' between elements or the end")
        }
        return node
    }

    private mutating func parseSeries() throws(CircuitSyntaxError) -> EquivalentCircuit.Node {
        var terms = [try parseTerm()]
        while true {
            skipSpaces()
            guard position < characters.count, characters[position] == "-" else { break }
            position += 1
            terms.append(try parseTerm())
        }
        return terms.count == 1 ? terms[0] : .series(terms)
    }

    private mutating func parseTerm() throws(CircuitSyntaxError) -> EquivalentCircuit.Node {
        skipSpaces()
        guard position < characters.count else { throw failure("an element or p(...) is missing at the end") }
        let start = position
        while position < characters.count,
            characters[position].isLetter || characters[position].isNumber
                || characters[position] == "_"
        {
            position += 1
        }
        let name = String(characters[start..<position])
        guard !name.isEmpty else {
            throw failure("unexpected '\(characters[position])'; expected an element name or p(")
        }
        skipSpaces()
        if name == "p", position < characters.count, characters[position] == "(" {
            position += 1
            var branches = [try parseSeries()]
            while true {
                skipSpaces()
                guard position < characters.count else { throw failure("p( is not closed with ')'") }
                if characters[position] == "," {
                    position += 1
                    branches.append(try parseSeries())
                } else if characters[position] == ")" {
                    position += 1
                    break
                } else {
                    throw failure("unexpected '\(characters[position])' in p(...); expected ',' or ')'")
                }
            }
            guard branches.count >= 2 else {
                throw failure("p(...) needs at least two branches in parallel", at: start)
            }
            return .parallel(branches)
        }
        return .element(try element(named: name, at: start))
    }

    private func element(named name: String, at start: Int) throws(CircuitSyntaxError) -> CircuitElement {
        for kind in CircuitElementKind.prefixesLongestFirst where name.hasPrefix(kind.rawValue) {
            let rest = name.dropFirst(kind.rawValue.count)
            if rest.isEmpty || rest.first!.isNumber || rest.first == "_" {
                return CircuitElement(kind: kind, name: name)
            }
        }
        throw failure("unknown element '\(name)'", at: start)
    }

    private mutating func skipSpaces() {
        while position < characters.count, characters[position] == " " || characters[position] == "\t" {
            position += 1
        }
    }

    private func failure(_ problem: String, at index: Int? = nil) -> CircuitSyntaxError {
        CircuitSyntaxError(text: text, position: (index ?? position) + 1, problem: problem)
    }
}
