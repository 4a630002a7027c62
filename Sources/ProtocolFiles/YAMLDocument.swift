import CYaml

/// One node of a YAML document as cellrig reads it: a scalar's text, a list, or a mapping whose keys are scalars,
/// with the line and column (from 1) where the node starts.
struct YAMLNode: Sendable {
    enum Content: Sendable {
        case scalar(String)
        case sequence([YAMLNode])
        /// Keys are scalar nodes, unique within the mapping, in file order.
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    var content: Content
    var line: Int
    var column: Int
    /// Nodes in this subtree, counting every repetition an alias makes.
    var weight: Int

    var scalar: String? {
        if case .scalar(let text) = content { return text }
        return nil
    }

    var sequence: [YAMLNode]? {
        if case .sequence(let nodes) = content { return nodes }
        return nil
    }

    var mapping: [(key: YAMLNode, value: YAMLNode)]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }
}

/// Builds ``YAMLNode`` trees from libyaml's events, within ``FileLimits``.
///
/// cellrig composes the document itself rather than through Yams' composer, which recurses once per nesting level
/// and hashes every mapping key: a key that is an alias of an alias of a list (the "billion laughs") makes that
/// hash take practically for ever. Here nesting stops at ``FileLimits/maximumNestingDepth``, keys must be scalars,
/// duplicate keys are found with a set, and an alias counts the values it repeats against
/// ``FileLimits/maximumValueCount``, so every document is read in time and memory proportional to its size.
struct YAMLComposer {
    private let file: String
    private let bytes: [UInt8]
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private var anchors: [String: YAMLNode] = [:]
    private var valueCount = 0

    /// Composes the single document of `text`; nil for a file with no document (empty, or only comments).
    static func compose(_ text: String, file: String) throws(FileError) -> YAMLNode? {
        let bytes = Array(text.utf8)
        try SourceText.checkSize(of: bytes, file: file, limit: FileLimits.maximumFileSize)
        var composer = YAMLComposer(file: file, bytes: bytes)
        defer { composer.close() }
        return try composer.document()
    }

    private init(file: String, bytes: [UInt8]) {
        self.file = file
        self.bytes = bytes
        parser = .allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
    }

    private mutating func close() {
        yaml_parser_delete(parser)
        parser.deinitialize(count: 1)
        parser.deallocate()
    }

    private mutating func document() throws(FileError) -> YAMLNode? {
        // libyaml reads the input in place; the buffer stays alive and unmoved while this runs.
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        defer { copy.deallocate() }
        _ = copy.initialize(from: bytes)
        guard yaml_parser_initialize(parser) == 1 else {
            throw FileError(file: file, line: 1, column: 1, problem: "YAML: out of memory")
        }
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, copy.baseAddress, bytes.count)
        _ = try next()  // stream start
        let start = try next()
        guard start.type == YAML_DOCUMENT_START_EVENT else { return nil }
        let root = try node(from: try next(), depth: 1)
        _ = try next()  // document end
        let after = try next()
        if after.type == YAML_DOCUMENT_START_EVENT {
            throw error(at: after.mark, "the file holds a second YAML document (after `---`); it may hold one")
        }
        return root
    }

    /// One libyaml event, copied out of C memory.
    private struct Event {
        var type: yaml_event_type_t
        var mark: (line: Int, column: Int)
        var anchor: String?
        var value: String
    }

    private mutating func next() throws(FileError) -> Event {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { throw syntaxError() }
        defer { yaml_event_delete(&event) }
        let mark = (Int(event.start_mark.line) + 1, Int(event.start_mark.column) + 1)
        func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }
        switch event.type {
        case YAML_SCALAR_EVENT:
            let value = String(
                decoding: UnsafeBufferPointer(start: event.data.scalar.value, count: event.data.scalar.length),
                as: UTF8.self)
            return Event(type: event.type, mark: mark, anchor: text(event.data.scalar.anchor), value: value)
        case YAML_ALIAS_EVENT:
            return Event(type: event.type, mark: mark, anchor: text(event.data.alias.anchor), value: "")
        case YAML_SEQUENCE_START_EVENT:
            return Event(type: event.type, mark: mark, anchor: text(event.data.sequence_start.anchor), value: "")
        case YAML_MAPPING_START_EVENT:
            return Event(type: event.type, mark: mark, anchor: text(event.data.mapping_start.anchor), value: "")
        default:
            return Event(type: event.type, mark: mark, anchor: nil, value: "")
        }
    }

    private mutating func node(from event: Event, depth: Int) throws(FileError) -> YAMLNode {
        let composed: YAMLNode
        switch event.type {
        case YAML_SCALAR_EVENT:
            composed = try counted(YAMLNode(content: .scalar(event.value), line: 0, column: 0, weight: 1), event)
        case YAML_ALIAS_EVENT:
            guard let anchor = event.anchor, var target = anchors[anchor] else {
                throw error(at: event.mark, "alias '*\(event.anchor ?? "")' names no anchor defined before it")
            }
            target.line = event.mark.line
            target.column = event.mark.column
            return try counted(target, event)
        case YAML_SEQUENCE_START_EVENT:
            try checkDepth(depth, event)
            var items: [YAMLNode] = []
            var weight = 1
            var item = try next()
            while item.type != YAML_SEQUENCE_END_EVENT {
                let child = try node(from: item, depth: depth + 1)
                weight += child.weight
                items.append(child)
                item = try next()
            }
            composed = try counted(YAMLNode(content: .sequence(items), line: 0, column: 0, weight: weight), event)
        case YAML_MAPPING_START_EVENT:
            try checkDepth(depth, event)
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            var keys: Set<String> = []
            var weight = 1
            var keyEvent = try next()
            while keyEvent.type != YAML_MAPPING_END_EVENT {
                let key = try node(from: keyEvent, depth: depth + 1)
                guard let name = key.scalar else {
                    throw error(at: keyEvent.mark, "a mapping key must be a single value, not a list or a mapping")
                }
                guard keys.insert(name).inserted else {
                    throw error(at: keyEvent.mark, "key '\(name)' is given twice in this mapping")
                }
                let value = try node(from: try next(), depth: depth + 1)
                weight += key.weight + value.weight
                pairs.append((key, value))
                keyEvent = try next()
            }
            composed = try counted(YAMLNode(content: .mapping(pairs), line: 0, column: 0, weight: weight), event)
        default:
            throw error(at: event.mark, "unexpected YAML structure")
        }
        return composed
    }

    /// Places a new node at its event, counts it (an alias counts everything it repeats) and registers its anchor.
    private mutating func counted(_ node: YAMLNode, _ event: Event) throws(FileError) -> YAMLNode {
        var node = node
        node.line = event.mark.line
        node.column = event.mark.column
        // A composed list or mapping counted its children as they came; count only the node itself.
        let added = event.type == YAML_ALIAS_EVENT || event.type == YAML_SCALAR_EVENT ? node.weight : 1
        valueCount += added
        guard valueCount <= FileLimits.maximumValueCount else {
            throw FileError(
                file: file, line: event.mark.line, column: event.mark.column,
                problem: "the document holds more than \(FileLimits.maximumValueCount) values"
                    + (event.type == YAML_ALIAS_EVENT ? " (this alias repeats \(node.weight))" : ""),
                allowed: "at most \(FileLimits.maximumValueCount) values, counting what aliases repeat")
        }
        if event.type != YAML_ALIAS_EVENT, let anchor = event.anchor { anchors[anchor] = node }
        return node
    }

    private func checkDepth(_ depth: Int, _ event: Event) throws(FileError) {
        guard depth > FileLimits.maximumNestingDepth else { return }
        throw FileError(
            file: file, line: event.mark.line, column: event.mark.column,
            problem: "lists and mappings are nested more than \(FileLimits.maximumNestingDepth) levels deep here",
            allowed: "at most \(FileLimits.maximumNestingDepth) levels")
    }

    private func error(at mark: (line: Int, column: Int), _ problem: String) -> FileError {
        FileError(file: file, line: mark.line, column: mark.column, problem: "YAML: \(problem)")
    }

    /// libyaml's error, placed: reader errors (a control character) by byte offset, the others by their mark.
    private func syntaxError() -> FileError {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "unreadable YAML"
        if state.error == YAML_READER_ERROR {
            let offset = min(Int(state.problem_offset), bytes.count)
            let (line, column) = SourceText.position(ofOffset: offset, in: bytes)
            let value = state.problem_value >= 0 ? " (character code \(state.problem_value))" : ""
            return FileError(file: file, line: line, column: column, problem: "YAML: \(problem)\(value)")
        }
        let mark = state.problem_mark
        if problem.hasPrefix("Maximum nesting level") {
            // libyaml's own bound (1000 levels), met while it scans ahead of the composer's.
            return FileError(
                file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1,
                problem: "lists and mappings are nested too deeply here",
                allowed: "at most \(FileLimits.maximumNestingDepth) levels")
        }
        var detail = problem
        if let context = state.context.map({ String(cString: $0) }) {
            detail += " (\(context) at line \(state.context_mark.line + 1))"
        }
        return FileError(
            file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1, problem: "YAML syntax: \(detail)")
    }
}
