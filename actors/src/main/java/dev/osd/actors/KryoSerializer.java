package dev.osd.actors;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Registration;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.Pool;
import com.google.re2j.Pattern;
import java.io.NotSerializableException;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * Every {@link CrossNode} message on the wire: Kryo 5, pooled instances (Kryo is not thread-safe), every class
 * registered explicitly with a stable id from {@link CrossNodeClasses} (an unregistered class is refused, not
 * written by name), typed actor refs written as their serialized path through {@link ActorRefResolver}. The
 * manifest is the registration id, so both sides must run the same registry.
 */
public final class KryoSerializer extends SerializerWithStringManifest {

    /** This serializer's id among the actor system's serializers (user range: above 40). */
    public static final int IDENTIFIER = 7301;

    private final ExtendedActorSystem system;
    private volatile ActorRefResolver resolver;
    private final Pool<Kryo> kryos = new Pool<>(true, false, 32) {
        @Override
        protected Kryo create() {
            return newKryo();
        }
    };
    private final Pool<Output> outputs = new Pool<>(true, false, 32) {
        @Override
        protected Output create() {
            return new Output(4096, -1);
        }
    };

    public KryoSerializer(ExtendedActorSystem system) {
        this.system = system;
    }

    private ActorRefResolver resolver() {
        ActorRefResolver r = resolver;
        if (r == null) {
            r = ActorRefResolver.get(Adapter.toTyped(system));
            resolver = r;
        }
        return r;
    }

    Kryo newKryo() {
        Kryo kryo = new Kryo();
        kryo.setRegistrationRequired(true);
        kryo.setReferences(false);
        CrossNodeClasses.register(kryo, new ActorRefSerializer(), new ListSerializer(), new PatternSerializer());
        return kryo;
    }

    @Override
    public int identifier() {
        return IDENTIFIER;
    }

    @Override
    public String manifest(Object o) {
        Kryo kryo = kryos.obtain();
        try {
            Registration r = kryo.getClassResolver().getRegistration(o.getClass());
            if (r == null) {
                throw new IllegalArgumentException(o.getClass().getName() + " is not registered in CrossNodeClasses");
            }
            return Integer.toString(r.getId());
        } finally {
            kryos.free(kryo);
        }
    }

    @Override
    public byte[] toBinary(Object o) {
        Kryo kryo = kryos.obtain();
        Output out = outputs.obtain();
        try {
            out.reset();
            kryo.writeObject(out, o);
            return out.toBytes();
        } finally {
            outputs.free(out);
            kryos.free(kryo);
        }
    }

    @Override
    public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
        Kryo kryo = kryos.obtain();
        try {
            Registration r;
            try {
                r = kryo.getRegistration(Integer.parseInt(manifest));
            } catch (RuntimeException e) {
                r = null;
            }
            if (r == null) {
                throw new NotSerializableException("no class registered as '" + manifest + "'");
            }
            return kryo.readObject(new Input(bytes), r.getType());
        } finally {
            kryos.free(kryo);
        }
    }

    /** A typed actor ref as its serialized path (resolvable on any node of the cluster). */
    @SuppressWarnings("rawtypes")
    final class ActorRefSerializer extends Serializer<ActorRef> {
        ActorRefSerializer() {
            setImmutable(true);
        }

        @Override
        public void write(Kryo kryo, Output output, ActorRef ref) {
            output.writeString(resolver().toSerializationFormat(ref));
        }

        @Override
        public ActorRef read(Kryo kryo, Input input, Class<? extends ActorRef> type) {
            return resolver().resolveActorRef(input.readString());
        }
    }

    /** Any list (Java's immutable ones have no constructor Kryo could call) as its size and elements. */
    @SuppressWarnings("rawtypes")
    static final class ListSerializer extends Serializer<List> {
        @Override
        public void write(Kryo kryo, Output output, List list) {
            output.writeVarInt(list.size(), true);
            for (Object o : list) {
                kryo.writeClassAndObject(output, o);
            }
        }

        @Override
        @SuppressWarnings("unchecked")
        public List read(Kryo kryo, Input input, Class<? extends List> type) {
            int n = input.readVarInt(true);
            List out = new ArrayList(n);
            for (int i = 0; i < n; i++) {
                out.add(kryo.readClassAndObject(input));
            }
            return List.copyOf(out);
        }
    }

    /** A regular expression as its source and flags. */
    static final class PatternSerializer extends Serializer<Pattern> {
        @Override
        public void write(Kryo kryo, Output output, Pattern p) {
            output.writeString(p.pattern());
            output.writeVarInt(p.flags(), true);
        }

        @Override
        public Pattern read(Kryo kryo, Input input, Class<? extends Pattern> type) {
            return Pattern.compile(input.readString(), input.readVarInt(true));
        }
    }
}
