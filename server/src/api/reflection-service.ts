import { create, fromBinary, toBinary, type DescEnum, type DescExtension, type DescFile, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "@aiki/gen/grpc/reflection/v1/reflection_pb";
import * as v1alpha from "@aiki/gen/grpc/reflection/v1alpha/reflection_pb";

/**
 * gRPC server reflection (grpc.reflection.v1 and the deprecated v1alpha that
 * older grpcurl / grpc_cli builds still speak), answering from the
 * descriptors protobuf-es already embeds in generated code.
 *
 * Semantics follow grpc-go's reflection server, except that every file
 * response carries the full transitive dependency closure even if parts were
 * sent earlier on the same stream: the spec merely allows omitting them, and
 * always sending them keeps the handler stateless and works with clients that
 * do not cache across requests.
 */
export function registerReflection(router: ConnectRouter, services: readonly DescService[]): void {
  const index = new ReflectionIndex([...services, v1.ServerReflection, v1alpha.ServerReflection]);

  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield index.answer(request);
      }
    },
  });

  // The v1alpha messages are the v1 messages under another package name, with
  // identical field numbers and types, so a binary round-trip is an exact
  // mapping and both versions share one implementation.
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        const asV1 = fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, request));
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, index.answer(asV1)));
      }
    },
  });
}

/** Everything reflection can be asked about, resolved once at registration. */
class ReflectionIndex {
  readonly #serviceNames: readonly string[];
  readonly #filesByName = new Map<string, DescFile>();
  readonly #filesBySymbol = new Map<string, DescFile>();
  readonly #messageTypes = new Set<string>();
  /** Extensions keyed by extendee type name, then field number. */
  readonly #extensions = new Map<string, Map<number, DescExtension>>();
  readonly #encoded = new Map<DescFile, Uint8Array>();

  constructor(services: readonly DescService[]) {
    this.#serviceNames = [...new Set(services.map((s) => s.typeName))];
    for (const service of services) {
      this.#addFile(service.file);
    }
  }

  answer(request: v1.ServerReflectionRequest): v1.ServerReflectionResponse {
    return create(v1.ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: this.#respond(request.messageRequest),
    });
  }

  #respond(req: v1.ServerReflectionRequest["messageRequest"]): v1.ServerReflectionResponse["messageResponse"] {
    switch (req.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: create(v1.ListServiceResponseSchema, {
            service: this.#serviceNames.map((name) => ({ name })),
          }),
        };
      case "fileByFilename":
        return this.#fileResponse(this.#filesByName.get(req.value), `file not found: ${req.value}`);
      case "fileContainingSymbol":
        return this.#fileResponse(this.#filesBySymbol.get(stripLeadingDot(req.value)), `symbol not found: ${req.value}`);
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = req.value;
        const ext = this.#extensions.get(stripLeadingDot(containingType))?.get(extensionNumber);
        return this.#fileResponse(ext?.file, `extension not found: ${containingType} field ${extensionNumber}`);
      }
      case "allExtensionNumbersOfType": {
        const typeName = stripLeadingDot(req.value);
        // Only message types can be extended; anything else is as unknown as a typo.
        if (!this.#messageTypes.has(typeName)) {
          return errorResponse(Code.NotFound, `message type not found: ${req.value}`);
        }
        return {
          case: "allExtensionNumbersResponse",
          value: create(v1.ExtensionNumberResponseSchema, {
            baseTypeName: typeName,
            extensionNumber: [...(this.#extensions.get(typeName)?.keys() ?? [])],
          }),
        };
      }
      case undefined:
        return errorResponse(Code.InvalidArgument, "message_request is not set");
    }
  }

  #fileResponse(file: DescFile | undefined, notFound: string): v1.ServerReflectionResponse["messageResponse"] {
    if (file === undefined) {
      return errorResponse(Code.NotFound, notFound);
    }
    return {
      case: "fileDescriptorResponse",
      value: create(v1.FileDescriptorResponseSchema, {
        fileDescriptorProto: withDependencies(file).map((f) => this.#encode(f)),
      }),
    };
  }

  #encode(file: DescFile): Uint8Array {
    let bytes = this.#encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#encoded.set(file, bytes);
    }
    return bytes;
  }

  #addFile(file: DescFile): void {
    const fileName = file.proto.name;
    if (this.#filesByName.has(fileName)) {
      return;
    }
    this.#filesByName.set(fileName, file);
    for (const dep of file.dependencies) {
      this.#addFile(dep);
    }
    for (const service of file.services) {
      this.#addSymbol(service.typeName, file);
      for (const method of service.methods) {
        this.#addSymbol(`${service.typeName}.${method.name}`, file);
      }
    }
    for (const message of file.messages) {
      this.#addMessage(message, file);
    }
    for (const en of file.enums) {
      this.#addEnum(en, file);
    }
    for (const ext of file.extensions) {
      this.#addExtension(ext, file);
    }
  }

  #addMessage(message: DescMessage, file: DescFile): void {
    this.#addSymbol(message.typeName, file);
    this.#messageTypes.add(message.typeName);
    // Fields and oneofs are symbols too (grpc-go resolves any full name), and
    // they live in the file of the message that declares them.
    for (const member of message.members) {
      this.#addSymbol(`${message.typeName}.${member.name}`, file);
    }
    for (const nested of message.nestedMessages) {
      this.#addMessage(nested, file);
    }
    for (const en of message.nestedEnums) {
      this.#addEnum(en, file);
    }
    for (const ext of message.nestedExtensions) {
      this.#addExtension(ext, file);
    }
  }

  #addEnum(en: DescEnum, file: DescFile): void {
    this.#addSymbol(en.typeName, file);
    // Protobuf scopes enum values as siblings of their enum, not children.
    const scope = en.typeName.slice(0, Math.max(0, en.typeName.lastIndexOf(".")));
    for (const value of en.values) {
      this.#addSymbol(scope === "" ? value.name : `${scope}.${value.name}`, file);
    }
  }

  #addExtension(ext: DescExtension, file: DescFile): void {
    this.#addSymbol(ext.typeName, file);
    let byNumber = this.#extensions.get(ext.extendee.typeName);
    if (byNumber === undefined) {
      byNumber = new Map();
      this.#extensions.set(ext.extendee.typeName, byNumber);
    }
    if (!byNumber.has(ext.number)) {
      byNumber.set(ext.number, ext);
    }
  }

  #addSymbol(name: string, file: DescFile): void {
    // First registration wins, so a duplicate definition cannot silently
    // redirect clients to another file.
    if (!this.#filesBySymbol.has(name)) {
      this.#filesBySymbol.set(name, file);
    }
  }
}

/** The file first, then its transitive imports breadth-first, each once. */
function withDependencies(file: DescFile): DescFile[] {
  const seen = new Set<string>([file.proto.name]);
  const ordered: DescFile[] = [file];
  for (let i = 0; i < ordered.length; i++) {
    for (const dep of ordered[i]?.dependencies ?? []) {
      if (!seen.has(dep.proto.name)) {
        seen.add(dep.proto.name);
        ordered.push(dep);
      }
    }
  }
  return ordered;
}

// Some clients send fully-qualified names in the ".pkg.Type" form used inside descriptors.
function stripLeadingDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

function errorResponse(code: Code, message: string): v1.ServerReflectionResponse["messageResponse"] {
  return {
    case: "errorResponse",
    value: create(v1.ErrorResponseSchema, { errorCode: code, errorMessage: message }),
  };
}
