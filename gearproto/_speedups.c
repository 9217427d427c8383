/* gearproto._speedups: the receive and send fast paths, compiled.
 *
 * Optional: gearproto works the same without it (set GEARPROTO_NO_EXTENSIONS=1 to
 * check). It does the common case only, a small complete packet with valid bytes, and
 * answers None for everything else, so that the Python code, which is the reference,
 * handles every error, limit and unusual value with its own messages.
 *
 * Events are built as the Python decoders build them: an instance of the frozen
 * dataclass is allocated and each slot is set through its member descriptor, which is
 * what a frozen dataclass's own __init__ ends up doing through object.__setattr__.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define NTYPES 43
#define MAX_WIRE 8
#define MAX_CONST 6
#define HEADER_SIZE 12

static int
set_slot(PyObject *descr, PyObject *obj, PyObject *value)
{
    return Py_TYPE(descr)->tp_descr_set(descr, obj, value);
}

/* ------------------------------------------------------------------ decoding */

typedef struct {
    PyTypeObject *cls;
    Py_ssize_t nwire;
    PyObject *wire[MAX_WIRE]; /* member descriptors, in wire order */
    PyObject *conv[MAX_WIRE]; /* converter, or NULL for bytes */
    Py_ssize_t nconst;
    PyObject *cdescr[MAX_CONST];
    PyObject *cval[MAX_CONST];
    PyObject *pair; /* Py_True when the connection must pair the event */
} Spec;

typedef struct {
    PyObject_HEAD
    unsigned char magic[4];
    Spec *specs[NTYPES];
} Decoder;

static void
spec_free(Spec *s)
{
    if (s == NULL)
        return;
    Py_XDECREF(s->cls);
    for (Py_ssize_t i = 0; i < s->nwire; i++) {
        Py_XDECREF(s->wire[i]);
        Py_XDECREF(s->conv[i]);
    }
    for (Py_ssize_t i = 0; i < s->nconst; i++) {
        Py_XDECREF(s->cdescr[i]);
        Py_XDECREF(s->cval[i]);
    }
    Py_XDECREF(s->pair);
    PyMem_Free(s);
}

static int
decoder_traverse(Decoder *self, visitproc visit, void *arg)
{
    for (int t = 0; t < NTYPES; t++) {
        Spec *s = self->specs[t];
        if (s == NULL)
            continue;
        Py_VISIT(s->cls);
        for (Py_ssize_t i = 0; i < s->nwire; i++) {
            Py_VISIT(s->wire[i]);
            Py_VISIT(s->conv[i]);
        }
        for (Py_ssize_t i = 0; i < s->nconst; i++) {
            Py_VISIT(s->cdescr[i]);
            Py_VISIT(s->cval[i]);
        }
    }
    return 0;
}

static int
decoder_clear(Decoder *self)
{
    for (int t = 0; t < NTYPES; t++) {
        spec_free(self->specs[t]);
        self->specs[t] = NULL;
    }
    return 0;
}

static void
decoder_dealloc(Decoder *self)
{
    PyObject_GC_UnTrack(self);
    decoder_clear(self);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* Spec from (cls, wire descriptors, converters, constant descriptors, constant values,
 * pair). */
static Spec *
spec_new(PyObject *item)
{
    PyObject *cls, *wire, *conv, *cdescr, *cval, *pair;
    if (!PyArg_ParseTuple(item, "O!O!O!O!O!O:spec", &PyType_Type, &cls, &PyTuple_Type, &wire,
                          &PyTuple_Type, &conv, &PyTuple_Type, &cdescr, &PyTuple_Type, &cval,
                          &pair))
        return NULL;
    Py_ssize_t nwire = PyTuple_GET_SIZE(wire), nconst = PyTuple_GET_SIZE(cdescr);
    if (nwire > MAX_WIRE || PyTuple_GET_SIZE(conv) != nwire || nconst > MAX_CONST ||
        PyTuple_GET_SIZE(cval) != nconst) {
        PyErr_SetString(PyExc_ValueError, "bad decoder spec");
        return NULL;
    }
    Spec *s = PyMem_Calloc(1, sizeof(Spec));
    if (s == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    s->cls = (PyTypeObject *)Py_NewRef(cls);
    s->pair = Py_NewRef(PyObject_IsTrue(pair) ? Py_True : Py_False);
    for (Py_ssize_t i = 0; i < nwire; i++) {
        PyObject *d = PyTuple_GET_ITEM(wire, i), *c = PyTuple_GET_ITEM(conv, i);
        s->wire[i] = Py_NewRef(d);
        s->conv[i] = c == Py_None ? NULL : Py_NewRef(c);
        s->nwire = i + 1;
        if (Py_TYPE(d)->tp_descr_set == NULL) {
            PyErr_SetString(PyExc_TypeError, "a field is not a settable descriptor");
            spec_free(s);
            return NULL;
        }
    }
    for (Py_ssize_t i = 0; i < nconst; i++) {
        PyObject *d = PyTuple_GET_ITEM(cdescr, i);
        s->cdescr[i] = Py_NewRef(d);
        s->cval[i] = Py_NewRef(PyTuple_GET_ITEM(cval, i));
        s->nconst = i + 1;
        if (Py_TYPE(d)->tp_descr_set == NULL) {
            PyErr_SetString(PyExc_TypeError, "a field is not a settable descriptor");
            spec_free(s);
            return NULL;
        }
    }
    return s;
}

static PyObject *
decoder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "Decoder() takes no keyword arguments");
        return NULL;
    }
    Py_buffer magic;
    PyObject *specs;
    if (!PyArg_ParseTuple(args, "y*O!:Decoder", &magic, &PyTuple_Type, &specs))
        return NULL;
    if (magic.len != 4 || PyTuple_GET_SIZE(specs) != NTYPES) {
        PyBuffer_Release(&magic);
        PyErr_SetString(PyExc_ValueError, "Decoder(magic: 4 bytes, specs: 43 items)");
        return NULL;
    }
    Decoder *self = (Decoder *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyBuffer_Release(&magic);
        return NULL;
    }
    memcpy(self->magic, magic.buf, 4);
    PyBuffer_Release(&magic);
    for (int t = 0; t < NTYPES; t++) {
        PyObject *item = PyTuple_GET_ITEM(specs, t);
        if (item == Py_None)
            continue;
        self->specs[t] = spec_new(item);
        if (self->specs[t] == NULL) {
            Py_DECREF(self);
            return NULL;
        }
    }
    return (PyObject *)self;
}

static inline uint32_t
be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Decoder.decode(buf, pos, limit) -> (event, end, pair) | None
 *
 * None unless buf[pos:] starts with a complete packet of an accepted type whose payload
 * is at most `limit` bytes and has every NUL it needs. */
static PyObject *
decoder_decode(Decoder *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyBytes_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "decode(buf: bytes, pos: int, limit: int)");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if ((pos == -1 || limit == -1) && PyErr_Occurred())
        return NULL;
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    if (pos < 0 || n - pos < HEADER_SIZE)
        Py_RETURN_NONE;
    const unsigned char *head = buf + pos;
    if (memcmp(head, self->magic, 4) != 0)
        Py_RETURN_NONE;
    uint32_t ptype = be32(head + 4), size = be32(head + 8);
    /* Sizes compare as unsigned 64-bit numbers: a uint32 size is never negative. */
    if (ptype >= NTYPES || limit < 0 || (uint64_t)size > (uint64_t)limit ||
        (uint64_t)size > (uint64_t)(n - pos - HEADER_SIZE))
        Py_RETURN_NONE;
    Spec *s = self->specs[ptype];
    if (s == NULL)
        Py_RETURN_NONE;
    const unsigned char *p = head + HEADER_SIZE, *end = p + size;
    const unsigned char *starts[MAX_WIRE], *stops[MAX_WIRE];
    Py_ssize_t last = s->nwire - 1;
    for (Py_ssize_t i = 0; i < last; i++) {
        const unsigned char *nul = memchr(p, 0, (size_t)(end - p));
        if (nul == NULL)
            Py_RETURN_NONE;
        starts[i] = p;
        stops[i] = nul;
        p = nul + 1;
    }
    if (last >= 0) {
        starts[last] = p;
        stops[last] = end;
    }
    PyObject *event = s->cls->tp_alloc(s->cls, 0);
    if (event == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < s->nwire; i++) {
        PyObject *value =
            PyBytes_FromStringAndSize((const char *)starts[i], stops[i] - starts[i]);
        if (value != NULL && s->conv[i] != NULL) {
            PyObject *converted = PyObject_CallOneArg(s->conv[i], value);
            Py_DECREF(value);
            value = converted;
        }
        if (value == NULL || set_slot(s->wire[i], event, value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(event);
            return NULL;
        }
        Py_DECREF(value);
    }
    for (Py_ssize_t i = 0; i < s->nconst; i++) {
        if (set_slot(s->cdescr[i], event, s->cval[i]) < 0) {
            Py_DECREF(event);
            return NULL;
        }
    }
    PyObject *end_pos = PyLong_FromSsize_t(pos + HEADER_SIZE + (Py_ssize_t)size);
    if (end_pos == NULL) {
        Py_DECREF(event);
        return NULL;
    }
    PyObject *result = PyTuple_New(3);
    if (result == NULL) {
        Py_DECREF(event);
        Py_DECREF(end_pos);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, event);
    PyTuple_SET_ITEM(result, 1, end_pos);
    PyTuple_SET_ITEM(result, 2, Py_NewRef(s->pair));
    return result;
}

static PyMethodDef decoder_methods[] = {
    {"decode", (PyCFunction)(void (*)(void))decoder_decode, METH_FASTCALL,
     "decode(buf, pos, limit) -> (event, end, pair) | None"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot decoder_slots[] = {
    {Py_tp_doc, "Decode small complete packets into events (see gearproto._accel)."},
    {Py_tp_new, decoder_new},
    {Py_tp_dealloc, decoder_dealloc},
    {Py_tp_traverse, decoder_traverse},
    {Py_tp_clear, decoder_clear},
    {Py_tp_methods, decoder_methods},
    {0, NULL},
};

static PyType_Spec decoder_spec = {
    .name = "gearproto._speedups.Decoder",
    .basicsize = sizeof(Decoder),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = decoder_slots,
};

/* ------------------------------------------------------------------ encoding */

#define MAX_VARIANTS 6
#define LARGE (32 * 1024)

typedef struct {
    Py_ssize_t nfields;
    PyObject *descr[MAX_WIRE];
    Py_ssize_t limit[MAX_WIRE]; /* longest NUL-free field; -1 for the data part */
    char optional[MAX_WIRE];    /* None leaves the field out (JobAssign's unique, reducer) */
    Py_ssize_t nptypes;
    uint32_t ptypes[MAX_WIRE]; /* packet type by how many optional fields are present */
    PyObject *sel[2];          /* descriptors whose values pick the packet type, or NULL */
    Py_ssize_t nvariants;
    PyObject *va[MAX_VARIANTS], *vb[MAX_VARIANTS];
    uint32_t vptype[MAX_VARIANTS];
} ESpec;

typedef struct {
    PyObject_HEAD
    unsigned char magic[4];
    PyObject *index; /* dict: event class -> index into specs */
    Py_ssize_t nspecs;
    ESpec *specs;
} Encoder;

static void
espec_clear(ESpec *s)
{
    for (Py_ssize_t i = 0; i < s->nfields; i++)
        Py_CLEAR(s->descr[i]);
    Py_CLEAR(s->sel[0]);
    Py_CLEAR(s->sel[1]);
    for (Py_ssize_t i = 0; i < s->nvariants; i++) {
        Py_CLEAR(s->va[i]);
        Py_CLEAR(s->vb[i]);
    }
    s->nfields = s->nvariants = 0;
}

static int
encoder_traverse(Encoder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->index);
    for (Py_ssize_t k = 0; k < self->nspecs; k++) {
        ESpec *s = &self->specs[k];
        for (Py_ssize_t i = 0; i < s->nfields; i++)
            Py_VISIT(s->descr[i]);
        Py_VISIT(s->sel[0]);
        Py_VISIT(s->sel[1]);
        for (Py_ssize_t i = 0; i < s->nvariants; i++) {
            Py_VISIT(s->va[i]);
            Py_VISIT(s->vb[i]);
        }
    }
    return 0;
}

static int
encoder_clear(Encoder *self)
{
    Py_CLEAR(self->index);
    for (Py_ssize_t k = 0; k < self->nspecs; k++)
        espec_clear(&self->specs[k]);
    return 0;
}

static void
encoder_dealloc(Encoder *self)
{
    PyObject_GC_UnTrack(self);
    encoder_clear(self);
    PyMem_Free(self->specs);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static uint32_t
as_ptype(PyObject *value)
{
    long v = PyLong_AsLong(value);
    if (v < 1 || v >= NTYPES) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "bad packet type");
        return 0;
    }
    return (uint32_t)v;
}

/* ESpec from (fields, ptypes, selectors, variants):
 *   fields: ((descriptor, limit, optional), ...) in wire order;
 *   ptypes: packet types by how many optional fields are present;
 *   selectors: () or (descriptor, descriptor);
 *   variants: ((a, b, ptype), ...): the packet type when the selectors' values are a and b.
 */
static int
espec_init(ESpec *s, PyObject *item)
{
    PyObject *fields, *ptypes, *sel, *variants;
    if (!PyArg_ParseTuple(item, "O!O!O!O!:spec", &PyTuple_Type, &fields, &PyTuple_Type, &ptypes,
                          &PyTuple_Type, &sel, &PyTuple_Type, &variants))
        return -1;
    if (PyTuple_GET_SIZE(fields) > MAX_WIRE || PyTuple_GET_SIZE(ptypes) > MAX_WIRE ||
        (PyTuple_GET_SIZE(sel) != 0 && PyTuple_GET_SIZE(sel) != 2) ||
        PyTuple_GET_SIZE(variants) > MAX_VARIANTS) {
        PyErr_SetString(PyExc_ValueError, "bad encoder spec");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *descr;
        Py_ssize_t limit;
        int optional;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(fields, i), "Onp:field", &descr, &limit,
                              &optional))
            return -1;
        if (Py_TYPE(descr)->tp_descr_get == NULL) {
            PyErr_SetString(PyExc_TypeError, "a field is not a descriptor");
            return -1;
        }
        s->descr[i] = Py_NewRef(descr);
        s->limit[i] = limit;
        s->optional[i] = (char)optional;
        s->nfields = i + 1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ptypes); i++) {
        if ((s->ptypes[i] = as_ptype(PyTuple_GET_ITEM(ptypes, i))) == 0)
            return -1;
        s->nptypes = i + 1;
    }
    if (PyTuple_GET_SIZE(sel) == 2) {
        s->sel[0] = Py_NewRef(PyTuple_GET_ITEM(sel, 0));
        s->sel[1] = Py_NewRef(PyTuple_GET_ITEM(sel, 1));
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(variants); i++) {
        PyObject *a, *b, *ptype;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(variants, i), "OOO:variant", &a, &b, &ptype))
            return -1;
        if ((s->vptype[i] = as_ptype(ptype)) == 0)
            return -1;
        s->va[i] = Py_NewRef(a);
        s->vb[i] = Py_NewRef(b);
        s->nvariants = i + 1;
    }
    return 0;
}

static PyObject *
encoder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Py_buffer magic;
    PyObject *specs;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "Encoder() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*O!:Encoder", &magic, &PyDict_Type, &specs))
        return NULL;
    if (magic.len != 4) {
        PyBuffer_Release(&magic);
        PyErr_SetString(PyExc_ValueError, "Encoder(magic: 4 bytes, specs: dict)");
        return NULL;
    }
    Encoder *self = (Encoder *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyBuffer_Release(&magic);
        return NULL;
    }
    memcpy(self->magic, magic.buf, 4);
    PyBuffer_Release(&magic);
    Py_ssize_t n = PyDict_GET_SIZE(specs);
    self->specs = PyMem_Calloc(n ? (size_t)n : 1, sizeof(ESpec));
    self->index = PyDict_New();
    if (self->specs == NULL || self->index == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    PyObject *key, *value;
    Py_ssize_t it = 0;
    while (PyDict_Next(specs, &it, &key, &value)) {
        Py_ssize_t k = self->nspecs++;
        PyObject *at = PyLong_FromSsize_t(k);
        if (at == NULL || espec_init(&self->specs[k], value) < 0 ||
            PyDict_SetItem(self->index, key, at) < 0) {
            Py_XDECREF(at);
            Py_DECREF(self);
            return NULL;
        }
        Py_DECREF(at);
    }
    return (PyObject *)self;
}

/* Encoder.encode(event) -> bytes | None
 *
 * The packet for an event of a known class whose fields are all exact bytes within
 * their limits, none over 32 KiB; None for anything else. */
static PyObject *
encoder_encode(Encoder *self, PyObject *event)
{
    PyObject *at = PyDict_GetItemWithError(self->index, (PyObject *)Py_TYPE(event));
    if (at == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    ESpec *s = &self->specs[PyLong_AsSsize_t(at)];
    PyObject *values[MAX_WIRE];
    Py_ssize_t n = 0, size = 0, present = 0;
    int gap = 0;
    uint32_t ptype = 0;
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < s->nfields; i++) {
        PyObject *v = Py_TYPE(s->descr[i])->tp_descr_get(s->descr[i], event, NULL);
        if (v == NULL)
            goto done;
        if (s->optional[i] && v == Py_None) {
            Py_DECREF(v);
            gap = 1;
            continue;
        }
        values[n++] = v;
        if (s->optional[i]) {
            if (gap)
                goto fallback; /* a reducer without a unique */
            present++;
        }
        if (!PyBytes_CheckExact(v))
            goto fallback;
        Py_ssize_t len = PyBytes_GET_SIZE(v);
        if (len > LARGE)
            goto fallback;
        if (s->limit[i] >= 0 &&
            (len > s->limit[i] || memchr(PyBytes_AS_STRING(v), 0, (size_t)len) != NULL))
            goto fallback;
        size += len;
    }
    if (s->sel[0] != NULL) {
        PyObject *a = Py_TYPE(s->sel[0])->tp_descr_get(s->sel[0], event, NULL);
        if (a == NULL)
            goto done;
        PyObject *b = Py_TYPE(s->sel[1])->tp_descr_get(s->sel[1], event, NULL);
        if (b == NULL) {
            Py_DECREF(a);
            goto done;
        }
        for (Py_ssize_t i = 0; i < s->nvariants; i++) {
            if (s->va[i] == a && s->vb[i] == b) {
                ptype = s->vptype[i];
                break;
            }
        }
        Py_DECREF(a);
        Py_DECREF(b);
    }
    else if (present < s->nptypes) {
        ptype = s->ptypes[present];
    }
    if (ptype == 0)
        goto fallback;
    if (n > 1)
        size += n - 1;
    result = PyBytes_FromStringAndSize(NULL, HEADER_SIZE + size);
    if (result == NULL)
        goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    memcpy(out, self->magic, 4);
    out[4] = (unsigned char)(ptype >> 24);
    out[5] = (unsigned char)(ptype >> 16);
    out[6] = (unsigned char)(ptype >> 8);
    out[7] = (unsigned char)ptype;
    out[8] = (unsigned char)((uint32_t)size >> 24);
    out[9] = (unsigned char)((uint32_t)size >> 16);
    out[10] = (unsigned char)((uint32_t)size >> 8);
    out[11] = (unsigned char)size;
    out += HEADER_SIZE;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len = PyBytes_GET_SIZE(values[i]);
        if (i)
            *out++ = 0;
        memcpy(out, PyBytes_AS_STRING(values[i]), (size_t)len);
        out += len;
    }
    goto done;
fallback:
    result = Py_NewRef(Py_None);
done:
    for (Py_ssize_t i = 0; i < n; i++)
        Py_DECREF(values[i]);
    return result;
}

static PyMethodDef encoder_methods[] = {
    {"encode", (PyCFunction)encoder_encode, METH_O, "encode(event) -> bytes | None"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot encoder_slots[] = {
    {Py_tp_doc, "Encode common events into packets (see gearproto._accel)."},
    {Py_tp_new, encoder_new},
    {Py_tp_dealloc, encoder_dealloc},
    {Py_tp_traverse, encoder_traverse},
    {Py_tp_clear, encoder_clear},
    {Py_tp_methods, encoder_methods},
    {0, NULL},
};

static PyType_Spec encoder_spec = {
    .name = "gearproto._speedups.Encoder",
    .basicsize = sizeof(Encoder),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = encoder_slots,
};

/* ------------------------------------------------------------------ module */

static int
speedups_exec(PyObject *module)
{
    PyObject *decoder = PyType_FromModuleAndSpec(module, &decoder_spec, NULL);
    if (decoder == NULL)
        return -1;
    if (PyModule_AddObject(module, "Decoder", decoder) < 0) {
        Py_DECREF(decoder);
        return -1;
    }
    PyObject *encoder = PyType_FromModuleAndSpec(module, &encoder_spec, NULL);
    if (encoder == NULL)
        return -1;
    if (PyModule_AddObject(module, "Encoder", encoder) < 0) {
        Py_DECREF(encoder);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, speedups_exec},
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gearproto._speedups",
    .m_doc = "Compiled fast paths of gearproto (optional).",
    .m_size = 0,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
